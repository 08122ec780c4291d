# Shared helpers and defaults for the native stack scripts (sourced, never run).
# Every default matches docs/NATIVE_STACK.md and docs/CONFIGURATION.md; every value is overridable from the environment.
set -euo pipefail

STACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$STACK_ROOT/.." && pwd)"
export STACK_HOME="${STACK_HOME:-/var/lib/cqrs-stack}"
export STACK_CACHE="${STACK_CACHE:-/var/cache/cqrs-stack}"
export STACK_LOGS="${STACK_LOGS:-$STACK_HOME/logs}"
# Not exported: the apps read their own settings (shared/config.py), and an exported PG_DB here
# would silently point test processes at the demo database.
PG_VERSION="${PG_VERSION:-15}"
PG_BIN="/usr/lib/postgresql/$PG_VERSION/bin"
PG_PORT="${PG_PORT:-5432}"
PG_REPLICA_PORT="${PG_REPLICA_PORT:-5433}"
PGBOUNCER_PORT="${PGBOUNCER_PORT:-6432}"
REDIS_PORT="${REDIS_PORT:-6379}"
ES_PORT="${ES_PORT:-9200}"
PG_USER="${PG_USER:-app}"
PG_PASSWORD="${PG_PASSWORD:-app}"
PG_DB="${PG_DB:-assessments}"
PG_REPLICATION_PASSWORD="${PG_REPLICATION_PASSWORD:-replicator}"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# Wait until "$@" succeeds, up to $WAIT_SECONDS (default 60).
wait_for() {
  local what="$1"; shift
  local deadline=$(( $(date +%s) + ${WAIT_SECONDS:-60} ))
  until "$@" >/dev/null 2>&1; do
    (( $(date +%s) < deadline )) || die "$what did not become healthy in ${WAIT_SECONDS:-60}s"
    sleep 0.3
  done
}

as_postgres() { runuser -u postgres -- "$@"; }

# Installs Debian packages only when one is missing, so a warm run never touches apt.
ensure_packages() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "packages missing (${missing[*]}): run as root so apt-get can install them"
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
