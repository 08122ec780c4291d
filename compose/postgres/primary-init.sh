#!/bin/bash
# First start of the compose primary only (/docker-entrypoint-initdb.d/ of the official image):
# the settings of the native stack (stack/conf/postgresql.conf, mounted read-only), the
# application role and database, and a replication role with a physical slot for the replica.
set -euo pipefail
echo "include '/etc/postgresql/cqrs.conf'" >> "$PGDATA/postgresql.conf"
# Replication connections match only an explicit `replication` line.
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v app_user="$PG_USER" -v app_password="$PG_PASSWORD" -v app_db="$PG_DB" \
     -v replication_password="$PG_REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE :"app_user" LOGIN CREATEDB PASSWORD :'app_password';
CREATE ROLE replicator LOGIN REPLICATION PASSWORD :'replication_password';
-- pipeline_status reads pg_stat_replication's lag columns: pg_monitor shows them (statistics only).
GRANT pg_monitor TO :"app_user";
CREATE DATABASE :"app_db" OWNER :"app_user";
-- The slot keeps WAL until the replica has it, so the replica can never fall irrecoverably behind.
SELECT pg_create_physical_replication_slot('replica1');
\connect :"app_db"
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SQL
