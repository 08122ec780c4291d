"""The benchmark's data stores: reset to empty, migrate, create indexes; statistics snapshots.

Only the namespace's own resources are touched: the database assessments_bench (dropped and
re-created), indexes and aliases named bench_*, and Redis databases 12 and 13 (flushed).
pg_stat_statements is read, never reset (its counters are cluster-wide and other engineers' runs
use them): figures are differences between two snapshots, filtered to our database.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

import psycopg2
import redis as redis_lib
from django.conf import settings

from bench import namespace
from shared.config import load_config
from shared.es_client import get_es_client


def primary_connection(dbname: str | None = None, *, replica: bool = False):
    """A direct psycopg2 connection to the primary (not pgBouncer: COPY and DDL), or the replica."""
    config = load_config()
    conn = psycopg2.connect(host=config.pg_replica_host if replica else config.pg_host,
                            port=config.pg_replica_port if replica else config.pg_port, user=config.pg_user,
                            password=config.pg_password, dbname=dbname or config.pg_db,
                            application_name="bench")
    return conn


def reset_namespace() -> None:
    from django.db import connections

    connections.close_all()
    config = load_config()
    assert config.pg_db == namespace.ENV["PG_DB"] and config.es_index_prefix == namespace.ENV["ES_INDEX_PREFIX"], \
        "refusing to reset: the process is not in the bench namespace"
    conn = primary_connection("postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{config.pg_db}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{config.pg_db}" OWNER "{config.pg_user}"')
    conn.close()
    _create_pg_stat_statements(config.pg_db)
    es = get_es_client()
    names = sorted(es.indices.get(index=f"{config.es_index_prefix}*", expand_wildcards="all").body)
    if names:
        es.indices.delete(index=",".join(names))
    for db in (config.redis_db_broker, config.redis_db_cache):
        redis_lib.Redis.from_url(f"{config.redis_url.rstrip('/')}/{db}").flushdb()


def _create_pg_stat_statements(dbname: str) -> None:
    """The extension needs a superuser; as root we have one through the server's Unix socket."""
    if os.geteuid() != 0 or not namespace.PG_SOCKET_DIR.exists():
        return
    subprocess.run(
        ["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-h", str(namespace.PG_SOCKET_DIR),
         "-p", str(load_config().pg_port), "-d", dbname, "-c", "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"],
        check=False, capture_output=True,
    )


def migrate_and_create_indexes() -> None:
    from django.core.management import call_command

    from read_indexer.index_lifecycle import ensure_all_indexes

    call_command("migrate", interactive=False, verbosity=0)
    ensure_all_indexes()


@dataclass
class StatementStats:
    query: str
    calls: int
    total_ms: float
    rows: int

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.calls if self.calls else 0.0


def statements_snapshot(*, replica: bool = False) -> dict[int, StatementStats]:
    """pg_stat_statements rows of our database, by queryid (empty if the extension is missing).
    The replica keeps its own statistics: the ORM baseline reads there."""
    try:
        conn = primary_connection(replica=replica)
    except psycopg2.Error:
        return {}
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                """SELECT s.queryid, s.query, s.calls, s.total_exec_time, s.rows
                   FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
                   WHERE d.datname = current_database() AND s.query NOT LIKE '%%pg_stat_statements%%'"""
            )
            return {row[0]: StatementStats(row[1], row[2], row[3], row[4]) for row in cursor.fetchall()}
    except psycopg2.Error:
        return {}
    finally:
        conn.close()


def statements_delta(before: dict[int, StatementStats], after: dict[int, StatementStats],
                     top: int = 8) -> list[dict]:
    """What ran between two snapshots, most total time first (query text shortened)."""
    rows = []
    for queryid, stats in after.items():
        previous = before.get(queryid)
        calls = stats.calls - (previous.calls if previous else 0)
        if calls <= 0:
            continue
        total = stats.total_ms - (previous.total_ms if previous else 0.0)
        rows.append({
            "query": " ".join(stats.query.split())[:300], "calls": calls, "total_ms": round(total, 1),
            "mean_ms": round(total / calls, 3), "rows": stats.rows - (previous.rows if previous else 0),
        })
    rows.sort(key=lambda r: r["total_ms"], reverse=True)
    return rows[:top]


def calls_matching(before: dict[int, StatementStats], after: dict[int, StatementStats], prefix: str) -> int:
    """Statement executions whose normalised text starts with `prefix` (whitespace-insensitive)."""
    wanted = " ".join(prefix.split()).lower()
    total = 0
    for queryid, stats in after.items():
        if " ".join(stats.query.split()).lower().startswith(wanted):
            total += stats.calls - (before[queryid].calls if queryid in before else 0)
    return total


def database_settings_summary() -> dict:
    db = settings.DATABASES["default"]
    return {"default_port": db["PORT"], "conn_max_age": db["CONN_MAX_AGE"]}
