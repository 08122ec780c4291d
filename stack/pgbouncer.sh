#!/usr/bin/env bash
# pgBouncer (transaction pooling) on PGBOUNCER_PORT in front of the primary.
# The pooling settings are conf/pgbouncer.ini, the same file compose/ mounts; this script writes
# only the host-specific entry file (which primary, where to listen, paths) that %includes it.
# Editing conf/pgbouncer.ini takes effect on the next `stop; start`.
source "$(dirname "$0")/lib.sh"
RUN_DIR="$STACK_HOME/pgbouncer"
INI="$RUN_DIR/pgbouncer.ini"

probe() { PGPASSWORD="$PG_PASSWORD" psql -X -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U "$PG_USER" -d "$PG_DB" -tAc 'select 1' | grep -q 1; }

write_entry_ini() {
  cat > "$INI" <<INI
;; Written by stack/pgbouncer.sh: host-specific part only; the settings are in the included file.
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
%include $RUN_DIR/pgbouncer-common.ini
;; Include first: pgBouncer 1.18 resets [pgbouncer] to defaults when the included file reopens it.
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
auth_file = $RUN_DIR/userlist.txt
logfile = $STACK_LOGS/pgbouncer.log
pidfile = $RUN_DIR/pgbouncer.pid
admin_users = $PG_USER
stats_users = $PG_USER
INI
  # A byte-for-byte copy of conf/pgbouncer.ini: pgBouncer runs as postgres, which may not be able
  # to read the checkout (a clone under /root, say).
  cp "$STACK_ROOT/conf/pgbouncer.ini" "$RUN_DIR/pgbouncer-common.ini"
}

case "${1:-start}" in
  start)
    ensure_packages pgbouncer
    mkdir -p "$RUN_DIR" "$STACK_LOGS"
    printf '"%s" "%s"\n' "$PG_USER" "$PG_PASSWORD" > "$RUN_DIR/userlist.txt"
    write_entry_ini
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
