"""Container health check of the change listener: its LISTEN session is open on the primary.

Exit 0 when the primary shows a session named `change_listener` (read_indexer/capture/change_listener.py
names its connection so), 1 otherwise. Runs as `python /app/compose/listener_health.py`.
"""

import os
import sys

import psycopg2

try:
    with psycopg2.connect(
        host=os.environ["PG_PRIMARY_HOST"],
        port=os.environ.get("PG_PORT", "5432"),
        dbname=os.environ["PG_DB"],
        user=os.environ["PG_USER"],
        password=os.environ["PG_PASSWORD"],
        connect_timeout=5,
        application_name="listener_health",
    ) as connection:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'change_listener' "
                "AND datname = current_database()"
            )
            sys.exit(0 if cursor.fetchone()[0] else 1)
except psycopg2.Error:
    sys.exit(1)
