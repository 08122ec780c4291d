#!/usr/bin/env bash
# PostgreSQL primary (PG_PORT) and a streaming hot-standby replica (PG_REPLICA_PORT) built with
# pg_basebackup over a physical replication slot, so the replica can never fall irrecoverably behind.
source "$(dirname "$0")/lib.sh"

PRIMARY_DIR="$STACK_HOME/postgres/primary"
REPLICA_DIR="$STACK_HOME/postgres/replica"
RUN_DIR="$STACK_HOME/postgres/run"

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1"; }
psql_primary() { PGPASSWORD="$PG_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$@"; }
psql_su() { as_postgres env PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 -h "$RUN_DIR" -p "$1" -d postgres "${@:2}"; }

# The Debian package creates its own cluster on 5432; we run ours instead, so keep theirs off.
disable_debian_cluster() {
  local conf="/etc/postgresql/$PG_VERSION/main/start.conf"
  [[ -f $conf ]] || return 0
  if pg_lsclusters -h 2>/dev/null | awk '$2=="main" && $4=="online"' | grep -q .; then
    pg_ctlcluster "$PG_VERSION" main stop || true
  fi
  grep -qx disabled "$conf" || echo disabled > "$conf"
}

init_primary() {
  [[ -f $PRIMARY_DIR/PG_VERSION ]] && return 0
  log "initialising PostgreSQL primary in $PRIMARY_DIR"
  mkdir -p "$PRIMARY_DIR" "$RUN_DIR" "$STACK_LOGS"
  chown -R postgres:postgres "$STACK_HOME/postgres"
  as_postgres "$PG_BIN/initdb" -D "$PRIMARY_DIR" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >/dev/null
  cat "$STACK_ROOT/conf/postgresql.conf" >> "$PRIMARY_DIR/postgresql.conf"
  cat > "$PRIMARY_DIR/pg_hba.conf" <<HBA
local   all          all                        peer
host    all          all          127.0.0.1/32  scram-sha-256
host    all          all          ::1/128       scram-sha-256
host    replication  replicator   127.0.0.1/32  scram-sha-256
HBA
}

start_cluster() { # dir port
  pg_ready "$2" && return 0
  as_postgres "$PG_BIN/pg_ctl" -D "$1" -l "$STACK_LOGS/postgres-$2.log" -w -t 60 \
    -o "-p $2 -k $RUN_DIR -c listen_addresses=127.0.0.1" start >/dev/null
}

create_roles_and_db() {
  psql_su "$PG_PORT" >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE "$PG_USER" LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'replicator') THEN
    CREATE ROLE replicator LOGIN REPLICATION PASSWORD '$PG_REPLICATION_PASSWORD';
  END IF;
END \$\$;
-- pipeline_status and readiness read pg_stat_replication's lag columns: pg_monitor shows them
-- (read-only statistics, no data access).
GRANT pg_monitor TO "$PG_USER";
SELECT pg_create_physical_replication_slot('replica1')
  WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'replica1');
SQL
  for db in "$PG_DB" "${PG_DB}_test"; do
    psql_su "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 ||
      psql_su "$PG_PORT" -c "CREATE DATABASE \"$db\" OWNER \"$PG_USER\""
    psql_su "$PG_PORT" -d "$db" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  done
}

init_replica() {
  [[ -f $REPLICA_DIR/standby.signal ]] && return 0
  log "cloning the replica with pg_basebackup"
  rm -rf "$REPLICA_DIR"; mkdir -p "$REPLICA_DIR"; chown postgres:postgres "$REPLICA_DIR"; chmod 700 "$REPLICA_DIR"
  as_postgres env PGPASSWORD="$PG_REPLICATION_PASSWORD" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" \
    -U replicator -D "$REPLICA_DIR" -R -X stream -S replica1 -c fast
  # A hot standby: read-only queries served, every write refused by the server itself.
  cat >> "$REPLICA_DIR/postgresql.auto.conf" <<CONF
hot_standby = on
hot_standby_feedback = on
CONF
}

check_replication() {
  local token="probe-$(date +%s%N)"
  psql_su "$PG_PORT" -c "CREATE TABLE IF NOT EXISTS stack_replication_probe (token text)" \
    -c "INSERT INTO stack_replication_probe VALUES ('$token')" >/dev/null
  WAIT_SECONDS=30 wait_for "replication of a probe row" \
    bash -c "runuser -u postgres -- psql -X -h '$RUN_DIR' -p '$PG_REPLICA_PORT' -d postgres -tAc \"SELECT 1 FROM stack_replication_probe WHERE token='$token'\" | grep -q 1"
  psql_su "$PG_PORT" -c "DELETE FROM stack_replication_probe" >/dev/null
}

case "${1:-start}" in
  start)
    ensure_packages postgresql postgresql-contrib
    disable_debian_cluster
    mkdir -p "$RUN_DIR" "$STACK_LOGS"; chown postgres:postgres "$RUN_DIR" "$STACK_LOGS"
    init_primary
    start_cluster "$PRIMARY_DIR" "$PG_PORT"
    create_roles_and_db
    init_replica
    start_cluster "$REPLICA_DIR" "$PG_REPLICA_PORT"
    check_replication
    ;;
  stop)
    for d in "$REPLICA_DIR" "$PRIMARY_DIR"; do
      [[ -f $d/postmaster.pid ]] && as_postgres "$PG_BIN/pg_ctl" -D "$d" -m fast -w stop >/dev/null || true
    done
    ;;
  stop-primary) as_postgres "$PG_BIN/pg_ctl" -D "$PRIMARY_DIR" -m fast -w stop >/dev/null ;;
  stop-replica) as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR" -m fast -w stop >/dev/null ;;
  status)
    pg_ready "$PG_PORT" && pg_ready "$PG_REPLICA_PORT" &&
      [[ $(psql_su "$PG_REPLICA_PORT" -tAc 'select pg_is_in_recovery()') == t ]]
    ;;
  reset) "$0" stop; rm -rf "$STACK_HOME/postgres" ;;
  *) die "usage: $0 start|stop|status|reset" ;;
esac
