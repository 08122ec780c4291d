#!/bin/sh
# pgBouncer in compose/: writes the host-specific entry file, then runs pgBouncer in the
# foreground (logs to stderr). The settings themselves are stack/conf/pgbouncer.ini, mounted at
# /etc/pgbouncer/pgbouncer-common.ini: the same file the native stack includes.
# PGBOUNCER_SERVER_TLS_SSLMODE (optional): TLS to the server, e.g. `require` in front of Spilo,
# which refuses connections without it (compose/docker-compose.cluster.yml); pgBouncer 1.18's
# default is `disable`.
set -eu
: "${PG_PRIMARY_HOST:?PG_PRIMARY_HOST is required}" "${PG_USER:?PG_USER is required}" "${PG_PASSWORD:?PG_PASSWORD is required}"
RUN_DIR=/run/pgbouncer
mkdir -p "$RUN_DIR"
umask 077
printf '"%s" "%s"\n' "$PG_USER" "$PG_PASSWORD" > "$RUN_DIR/userlist.txt"
cat > "$RUN_DIR/pgbouncer.ini" <<INI
;; Written by compose/pgbouncer/entrypoint.sh: host-specific part only.
[databases]
* = host=$PG_PRIMARY_HOST port=${PG_PRIMARY_PORT:-5432}

[pgbouncer]
%include /etc/pgbouncer/pgbouncer-common.ini
;; Include first: pgBouncer 1.18 resets [pgbouncer] to defaults when the included file reopens it.
listen_addr = 0.0.0.0
listen_port = ${PGBOUNCER_PORT:-6432}
auth_file = $RUN_DIR/userlist.txt
pidfile =
logfile =
admin_users = $PG_USER
stats_users = $PG_USER
${PGBOUNCER_SERVER_TLS_SSLMODE:+server_tls_sslmode = $PGBOUNCER_SERVER_TLS_SSLMODE}
INI
exec pgbouncer "$RUN_DIR/pgbouncer.ini"
