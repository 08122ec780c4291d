#!/bin/sh
# Patroni's post_bootstrap (once, on the node that initialises the cluster): the application's
# role and databases, as stack/postgres.sh makes them for the single-node stack. $1 is a
# connection string for the new primary as its superuser.
set -eu
psql -X -v ON_ERROR_STOP=1 -d "$1" <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_USER}') THEN
    CREATE ROLE "${PG_USER}" LOGIN CREATEDB PASSWORD '${PG_PASSWORD}';
  END IF;
END\$\$;
GRANT pg_monitor TO "${PG_USER}";
CREATE DATABASE assessments OWNER "${PG_USER}";
CREATE DATABASE assessments_test OWNER "${PG_USER}";
SQL
for db in assessments assessments_test; do
  psql -X -v ON_ERROR_STOP=1 -d "$(echo "$1" | sed "s|dbname=[^ ]*|dbname=$db|")" -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null
done
