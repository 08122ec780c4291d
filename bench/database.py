"""The benchmark's data stores: reset to empty, migrate, create indexes; statistics snapshots.

Only the namespace's own resources are touched: the database assessments_bench (dropped and
re-created; its capture triggers disabled and re-enabled by capture_disabled), indexes and aliases
named bench_*, and Redis databases 12 and 13 (flushed).
pg_stat_statements is read, never reset (its counters are cluster-wide and other engineers' runs
use them): figures are differences between two snapshots, filtered to our database.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg2
import psycopg2.errors
import redis as redis_lib
from django.conf import settings

from bench import namespace
from read_indexer.raw_sql import one_row
from shared.config import load_config
from shared.es_client import get_es_client


def primary_connection(dbname: str | None = None, *, replica: bool = False):
    """A direct psycopg2 connection to the primary (not pgBouncer: COPY and DDL), or the replica."""
    config = load_config()
    conn = psycopg2.connect(
        host=config.pg_replica_host if replica else config.pg_host,
        port=config.pg_replica_port if replica else config.pg_port,
        user=config.pg_user,
        password=config.pg_password,
        dbname=dbname or config.pg_db,
        application_name="bench",
    )
    return conn


def reset_namespace() -> None:
    from django.db import connections

    connections.close_all()
    config = load_config()
    assert config.pg_db == namespace.ENV["PG_DB"] and config.es_index_prefix == namespace.ENV["ES_INDEX_PREFIX"], (
        "refusing to reset: the process is not in the bench namespace"
    )
    wipe_namespace(config)
    _create_pg_stat_statements(config.pg_db)


def wipe_namespace(config) -> None:
    """Drops and re-creates the namespace's database, deletes its indexes, flushes its Redis
    databases (the caller has checked the namespace is its own)."""
    conn = primary_connection("postgres")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{config.pg_db}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{config.pg_db}" OWNER "{config.pg_user}"')
    conn.close()
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
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-X",
            "-q",
            "-h",
            str(namespace.PG_SOCKET_DIR),
            "-p",
            str(load_config().pg_port),
            "-d",
            dbname,
            "-c",
            "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
        ],
        check=False,
        capture_output=True,
    )


def migrate_and_create_indexes() -> None:
    from django.core.management import call_command

    from read_indexer.lifecycle.ensure import ensure_all_indexes

    call_command("migrate", interactive=False, verbosity=0)
    ensure_all_indexes()


# Change capture on/off -------------------------------------------------------------------------

CAPTURE_MIGRATION = "write_service.outbox.migrations.0002_capture_triggers"
CAPTURE_LOCK_TIMEOUT = "5s"  # per attempt: ALTER TABLE waits for writers' open transactions


def captured_tables() -> tuple[str, ...]:
    """The tables the capture triggers are on: the migration's own CAPTURED (the module name starts
    with a digit, hence importlib)."""
    return tuple(importlib.import_module(CAPTURE_MIGRATION).CAPTURED)


def capture_state() -> dict[str, dict[str, str]]:
    """{table: {trigger: 'O' (enabled) | 'D' (disabled) | ...}} of the capture triggers, from pg_trigger."""
    conn = primary_connection()
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                """SELECT c.relname, t.tgname, t.tgenabled FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                              WHERE NOT t.tgisinternal AND c.relname = ANY(%s) ORDER BY 1, 2""",
                [list(captured_tables())],
            )
            state: dict[str, dict[str, str]] = {}
            for table, trigger, enabled in cursor.fetchall():
                state.setdefault(table, {})[trigger] = enabled if isinstance(enabled, str) else enabled.decode()
            return state
    finally:
        conn.close()


def alter_capture(cursor, enabled: bool) -> None:
    """ENABLE/DISABLE TRIGGER USER on every captured table, in the cursor's transaction."""
    action = "ENABLE" if enabled else "DISABLE"
    for table in captured_tables():
        cursor.execute(f'ALTER TABLE "{table}" {action} TRIGGER USER')


def set_capture(enabled: bool, *, attempts: int = 12) -> dict:
    """ENABLE/DISABLE TRIGGER USER on every captured table, in one transaction on the primary
    (direct, not pgBouncer). The bench's user owns the tables (it created the database and ran the
    migrations), which ALTER TABLE needs; USER leaves the internal foreign-key triggers alone.
    Each attempt waits at most CAPTURE_LOCK_TIMEOUT for the tables' lock (writers in flight), then
    retries. Returns what pg_trigger says afterwards; raises if any capture trigger is not in the
    wanted state."""
    action = "ENABLE" if enabled else "DISABLE"
    assert load_config().pg_db == namespace.ENV["PG_DB"], "refusing to toggle capture outside the bench database"
    tables = captured_tables()
    started, last_error = time.monotonic(), None
    for attempt in range(1, attempts + 1):
        conn = primary_connection()
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = '{CAPTURE_LOCK_TIMEOUT}'")
                alter_capture(cursor, enabled)
            conn.commit()
            break
        except psycopg2.errors.LockNotAvailable as exc:
            conn.rollback()
            last_error = f"attempt {attempt}: {exc}"
        finally:
            conn.close()
    else:
        raise RuntimeError(f"could not {action} the capture triggers after {attempts} attempts: {last_error}")
    state = capture_state()
    wanted = "O" if enabled else "D"
    wrong = {f"{t}.{name}": flag for t, triggers in state.items() for name, flag in triggers.items() if flag != wanted}
    missing = [t for t in tables if not state.get(t)]
    if wrong or missing:
        raise RuntimeError(f"capture triggers not {action}D: wrong {wrong}, tables without triggers {missing}")
    return {
        "enabled": enabled,
        "tables": list(tables),
        "triggers": sum(len(v) for v in state.values()),
        "attempts": attempt,
        "seconds": round(time.monotonic() - started, 3),
    }


@contextmanager
def capture_disabled():
    """Capture off for the bench database while the block runs: no outbox row, no version bump, no
    NOTIFY for any write, whoever makes it. Yields set_capture's record. Always re-enabled on the
    way out, also when the block (or the disabling itself) raises; a failure to re-enable raises
    (chained to the block's exception, if any) rather than leave capture off."""
    try:
        yield set_capture(False)
    finally:
        set_capture(True)


CAPTURE_MODES = ("capture_on", "capture_off")


def capture_mode(mode: str):
    """capture_on: the product as deployed; capture_off: the same instance with the capture
    triggers disabled (capture_disabled re-enables them on the way out, whatever happens)."""
    return capture_disabled() if mode == "capture_off" else contextlib.nullcontext()


def ensure_capture_enabled() -> dict:
    """main.py's last word on the bench database: every capture trigger enabled (re-enabling them if
    a stage was interrupted between the two ALTERs). {"enabled": True|False|None (no database),
    "reenabled": whether it had to}."""
    try:
        state = capture_state()
    except psycopg2.Error as exc:
        return {"enabled": None, "reenabled": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    if state and all(flag == "O" for triggers in state.values() for flag in triggers.values()):
        return {"enabled": True, "reenabled": False, "triggers": sum(len(v) for v in state.values())}
    record = set_capture(True)
    return {"enabled": True, "reenabled": True, "triggers": record["triggers"]}


# Row counts of the bench database ------------------------------------------------------------


def max_id(table: str) -> int:
    return one_row(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0]


def rows_since(table: str, after_id: int) -> int:
    return one_row(f"SELECT count(*) FROM {table} WHERE id > %s", [after_id])[0]


def unindexed_events() -> int:
    """The outbox backlog a resumed pipeline has to index (dead letters excluded)."""
    return one_row("SELECT count(*) FROM outbox_outboxevent WHERE indexed_at IS NULL AND dead_at IS NULL")[0]


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


def statements_delta(before: dict[int, StatementStats], after: dict[int, StatementStats], top: int = 8) -> list[dict]:
    """What ran between two snapshots, most total time first (query text shortened)."""
    rows = []
    for queryid, stats in after.items():
        previous = before.get(queryid)
        calls = stats.calls - (previous.calls if previous else 0)
        if calls <= 0:
            continue
        total = stats.total_ms - (previous.total_ms if previous else 0.0)
        rows.append(
            {
                "query": " ".join(stats.query.split())[:300],
                "calls": calls,
                "total_ms": round(total, 1),
                "mean_ms": round(total / calls, 3),
                "rows": stats.rows - (previous.rows if previous else 0),
            }
        )
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
