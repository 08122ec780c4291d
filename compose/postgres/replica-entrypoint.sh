#!/bin/bash
# The compose replica: on first start (empty volume) clone the primary with pg_basebackup over the
# physical slot `replica1` (-R writes standby.signal and primary_conninfo), then hand over to the
# official image's entrypoint, which starts a hot standby from the existing data directory.
set -euo pipefail
: "${PG_PRIMARY_HOST:?PG_PRIMARY_HOST is required}" "${PG_REPLICATION_PASSWORD:?PG_REPLICATION_PASSWORD is required}"
if [[ ! -s $PGDATA/PG_VERSION ]]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  until gosu postgres pg_isready -q -h "$PG_PRIMARY_HOST" -p 5432; do
    echo "replica: waiting for $PG_PRIMARY_HOST"; sleep 2
  done
  gosu postgres env PGPASSWORD="$PG_REPLICATION_PASSWORD" pg_basebackup -h "$PG_PRIMARY_HOST" -p 5432 \
    -U replicator -D "$PGDATA" -R -X stream -S replica1 -c fast
  # A hot standby: read-only queries served, every write refused by the server itself.
  printf 'hot_standby = on\nhot_standby_feedback = on\n' >> "$PGDATA/postgresql.auto.conf"
fi
exec docker-entrypoint.sh postgres
