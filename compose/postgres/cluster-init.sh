#!/bin/bash
# One-shot (service pg-init of compose/docker-compose.cluster.yml): the application's role and
# database on the Patroni cluster, through HAProxy's read-write port, so it runs on whichever node
# leads. The compose file of one node does this in the image's initdb hook
# (compose/postgres/primary-init.sh); Spilo's own bootstrap (post_init) stays as Spilo ships it.
# Idempotent: it runs at every `up`; an existing role gets the password from compose/.env again.
# The connection comes from libpq's PG* variables (PGHOST=haproxy, PGPORT=5000, the superuser).
set -euo pipefail
: "${PG_DB:?PG_DB is required}" "${PG_USER:?PG_USER is required}" "${PG_PASSWORD:?PG_PASSWORD is required}"

for attempt in $(seq 1 60); do
  if psql -X -tAc 'SELECT NOT pg_is_in_recovery()' 2>/dev/null | grep -qx t; then break; fi
  [[ $attempt -lt 60 ]] || { echo "pg-init: no primary behind $PGHOST:$PGPORT after 120 s" >&2; exit 1; }
  echo "pg-init: waiting for the primary behind $PGHOST:$PGPORT"; sleep 2
done

psql -X -v ON_ERROR_STOP=1 -v app_user="$PG_USER" -v app_password="$PG_PASSWORD" -v app_db="$PG_DB" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'app_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_user') \gexec
ALTER ROLE :"app_user" LOGIN CREATEDB PASSWORD :'app_password';
-- pipeline_status reads pg_stat_replication's lag columns: pg_monitor shows them (statistics only).
GRANT pg_monitor TO :"app_user";
SELECT format('CREATE DATABASE %I OWNER %I', :'app_db', :'app_user')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec
\connect :"app_db"
-- Spilo preloads pg_stat_statements; the extension itself is per database.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
echo "pg-init: role $PG_USER and database $PG_DB ready"
