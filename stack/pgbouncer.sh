#!/usr/bin/env bash
# pgBouncer (transaction pooling) on PGBOUNCER_PORT in front of the primary, from conf/pgbouncer.ini.
source "$(dirname "$0")/lib.sh"
RUN_DIR="$STACK_HOME/pgbouncer"
INI="$RUN_DIR/pgbouncer.ini"

probe() { PGPASSWORD="$PG_PASSWORD" psql -X -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U "$PG_USER" -d "$PG_DB" -tAc 'select 1' | grep -q 1; }

case "${1:-start}" in
  start)
    ensure_packages pgbouncer
    mkdir -p "$RUN_DIR" "$STACK_LOGS"
    printf '"%s" "%s"\n' "$PG_USER" "$PG_PASSWORD" > "$RUN_DIR/userlist.txt"
    python3 - "$STACK_ROOT/conf/pgbouncer.ini" "$INI" <<PY
import sys
template = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(template % {
    "PG_HOST": "127.0.0.1", "PG_PORT": "$PG_PORT", "LISTEN_ADDR": "127.0.0.1",
    "PGBOUNCER_PORT": "$PGBOUNCER_PORT", "AUTH_FILE": "$RUN_DIR/userlist.txt",
    "LOG_FILE": "$STACK_LOGS/pgbouncer.log", "PID_FILE": "$RUN_DIR/pgbouncer.pid", "PG_USER": "$PG_USER"})
PY
    chown -R postgres:postgres "$RUN_DIR"; chmod 600 "$RUN_DIR/userlist.txt"
    touch "$STACK_LOGS/pgbouncer.log"; chown postgres "$STACK_LOGS/pgbouncer.log"
    # pgBouncer refuses to run as root.
    probe 2>/dev/null || as_postgres pgbouncer -d -q "$INI"
    wait_for pgbouncer probe
    ;;
  stop) [[ -f $RUN_DIR/pgbouncer.pid ]] && kill "$(cat "$RUN_DIR/pgbouncer.pid")" 2>/dev/null || true
        WAIT_SECONDS=20 wait_for "pgbouncer shutdown" bash -c "! [[ -f $RUN_DIR/pgbouncer.pid ]] || ! kill -0 \$(cat $RUN_DIR/pgbouncer.pid)" ;;
  status) probe 2>/dev/null ;;
  reset) "$0" stop; rm -rf "$RUN_DIR" ;;
  *) die "usage: $0 start|stop|status|reset" ;;
esac
