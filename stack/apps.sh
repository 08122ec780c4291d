#!/usr/bin/env bash
# Our own processes: write_service under Gunicorn, search_api under Granian (search_api/server.py), Celery workers (one per queue
# group), beat, and the change listener (LISTEN on the primary, read_indexer/capture/change_listener.py). APP_ENV selects the data (dev: the demo; test: the isolated test data) and the
# default ports, so the test suite runs its own processes beside the demo without touching it.
#
# usage: stack/apps.sh start|stop|status|restart [component...]
source "$(dirname "$0")/lib.sh"
export APP_ENV="${APP_ENV:-dev}"
if [[ $APP_ENV == test ]]; then
  export WRITE_PORT="${TEST_WRITE_PORT:-8100}" SEARCH_PORT="${TEST_SEARCH_PORT:-8101}"
else
  export WRITE_PORT="${WRITE_PORT:-8000}" SEARCH_PORT="${SEARCH_PORT:-8001}"
fi
# A namespace per isolated data set (e.g. a second test run with its own PG_DB/ES_INDEX_PREFIX).
STACK_NAMESPACE="${STACK_NAMESPACE:-$APP_ENV}"
RUN_DIR="$STACK_HOME/run/$STACK_NAMESPACE"
LOG_DIR="$STACK_LOGS/$STACK_NAMESPACE"
VENV="$REPO_ROOT/.venv/bin"
export PYTHONPATH="$REPO_ROOT" PROMETHEUS_MULTIPROC_DIR="$RUN_DIR/prometheus"
ALL_COMPONENTS=(write search worker-indexing worker-fanout worker-counters beat listener)

command_for() {
  case "$1" in
    write) echo "$VENV/gunicorn -c $REPO_ROOT/write_service/gunicorn.conf.py write_service.wsgi:application" ;;
    search) echo "$VENV/python -m search_api.server" ;;
    # One pool per queue group: a deletion fan-out (seconds for a 100k-attempt assessment) never
    # holds up new documents on indexing, and neither delays counter flushes or the relays.
    worker-indexing) echo "$VENV/celery -A read_indexer.celery_app worker -Q indexing -c ${INDEXING_CONCURRENCY:-2} -n indexing-$STACK_NAMESPACE@%h --without-mingle --without-gossip --loglevel INFO" ;;
    worker-fanout) echo "$VENV/celery -A read_indexer.celery_app worker -Q fanout -c ${FANOUT_CONCURRENCY:-1} -n fanout-$STACK_NAMESPACE@%h --without-mingle --without-gossip --loglevel INFO" ;;
    worker-counters) echo "$VENV/celery -A read_indexer.celery_app worker -Q counters,maintenance -c ${COUNTERS_CONCURRENCY:-1} -n counters-$STACK_NAMESPACE@%h --without-mingle --without-gossip --loglevel INFO" ;;
    beat) echo "$VENV/celery -A read_indexer.celery_app beat --loglevel INFO" ;;
    listener) echo "$VENV/python $REPO_ROOT/manage.py listen_changes" ;;
    *) die "unknown component $1" ;;
  esac
}

# Alive and not a zombie: a killed process nobody has reaped yet still answers kill -0.
pid_of() {
  [[ -f $RUN_DIR/$1.pid ]] || return 1
  local pid; pid="$(cat "$RUN_DIR/$1.pid")"
  kill -0 "$pid" 2>/dev/null && [[ $(ps -o stat= -p "$pid" 2>/dev/null) != Z* ]] && echo "$pid"
}

healthy() {
  case "$1" in
    write) curl -fsS -m 2 "http://127.0.0.1:$WRITE_PORT/health/live" >/dev/null ;;
    search) curl -fsS -m 2 "http://127.0.0.1:$SEARCH_PORT/search/health/live" >/dev/null ;;
    *) pid_of "$1" >/dev/null ;;
  esac
}

start_one() {
  local name="$1"
  if pid_of "$name" >/dev/null; then return 0; fi
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$PROMETHEUS_MULTIPROC_DIR"
  # setsid: its own process group, so stop can signal Gunicorn's or Celery's children too.
  if [[ $name == worker-* || $name == beat || $name == listener ]]; then
    # Supervised like systemd or compose's restart policy would: a Celery process that exits
    # (e.g. on a broker connection loss it cannot recover from) is started again in a second.
    setsid nohup bash -c "while :; do $(command_for "$name"); echo '{\"event\": \"supervisor.restart\", \"component\": \"$name\"}'; sleep 1; done" \
      >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  else
    setsid nohup $(command_for "$name") >>"$LOG_DIR/$name.log" 2>&1 < /dev/null &
  fi
  echo $! > "$RUN_DIR/$name.pid"
}

stop_one() {
  local name="$1" pid
  pid="$(pid_of "$name")" || { rm -f "$RUN_DIR/$name.pid"; return 0; }
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$RUN_DIR/$name.pid"
}

# Multiprocess metric files of processes gone since the last start would be summed forever (a
# counter would never restart from zero): wipe them when nothing of this namespace runs.
reset_metrics_dir_if_idle() {
  local c
  for c in "${ALL_COMPONENTS[@]}"; do pid_of "$c" >/dev/null && return 0; done
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"
}

action="${1:-start}"; shift || true
components=("$@"); ((${#components[@]})) || components=("${ALL_COMPONENTS[@]}")
case "$action" in
  start)
    reset_metrics_dir_if_idle
    for c in "${components[@]}"; do start_one "$c"; done
    for c in "${components[@]}"; do
      if ! (WAIT_SECONDS=60 wait_for "$c ($APP_ENV)" healthy "$c"); then tail -20 "$LOG_DIR/$c.log" >&2; exit 1; fi
    done ;;
  stop) for c in "${components[@]}"; do stop_one "$c"; done ;;
  restart) for c in "${components[@]}"; do stop_one "$c"; start_one "$c"; done ;;
  status) rc=0; for c in "${components[@]}"; do
      if healthy "$c"; then printf '%-18s %-6s up    pid %s\n' "$c" "$APP_ENV" "$(pid_of "$c")"; else printf '%-18s %-6s DOWN\n' "$c" "$APP_ENV"; rc=1; fi
    done; exit $rc ;;
  pid) pid_of "${components[0]}" ;;
  *) die "usage: $0 start|stop|restart|status [$(IFS='|'; echo "${ALL_COMPONENTS[*]}")]" ;;
esac
