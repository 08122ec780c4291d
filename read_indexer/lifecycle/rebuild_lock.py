"""One reindex per alias at a time: a PostgreSQL session advisory lock on a direct connection.

Why PostgreSQL and not a Redis key with a TTL: the lock lives exactly as long as the process's
connection, so a reindex that is SIGKILLed (or whose host dies) frees it at once and `--resume`
can start immediately, with no TTL to guess and no heartbeat to keep alive. The connection goes
straight to the primary, not through pgBouncer: transaction pooling would hand the session (and
its lock) to other clients between transactions.
May touch: one connection to the primary, advisory locks in the classid below.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager

import psycopg2
import structlog
from django.db import connections

from read_indexer.errors import OperatorError
from shared.config import load_config

log = structlog.get_logger(__name__)
REINDEX_LOCK_CLASS = 7_240_006  # two-int advisory keyspace: (class, crc32 of the alias)


def _lock_key(alias: str) -> tuple[int, int]:
    objid = zlib.crc32(alias.encode())
    return REINDEX_LOCK_CLASS, objid - 2**32 if objid >= 2**31 else objid  # int4 is signed


def _connect():
    config = load_config()
    conn = psycopg2.connect(
        host=config.pg_primary_host,  # the primary itself (the listener's host), never pgBouncer
        port=config.pg_port,
        dbname=config.pg_db,
        user=config.pg_user,
        password=config.pg_password,
        connect_timeout=5,
        application_name="reindex-lock",
        # A dead peer (network partition) is noticed within about a minute, freeing the lock.
        keepalives=1,
        keepalives_idle=30,
        keepalives_interval=10,
        keepalives_count=3,
    )
    conn.autocommit = True
    return conn


class ReindexLock:
    def __init__(self, alias: str):
        self.alias = alias
        self._conn = None

    def acquire(self) -> None:
        self._conn = _connect()
        with self._conn.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", _lock_key(self.alias))
            acquired = cursor.fetchone()[0]
        if not acquired:
            self.release()
            raise OperatorError(f"A reindex of {self.alias} is already running (lock held); wait for it to finish.")
        log.info("reindex.lock_acquired", alias=self.alias)

    def ensure_held(self) -> None:
        """Called before irreversible steps: a dropped connection means another run may own the lock."""
        try:
            with self._conn.cursor() as cursor:
                cursor.execute("SELECT 1")
        except (psycopg2.Error, AttributeError):
            raise OperatorError(
                f"Lost the reindex lock of {self.alias} (database connection dropped); rerun with --resume."
            ) from None

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()  # closing the session releases the advisory lock
            finally:
                self._conn = None


def reindex_running(alias: str) -> bool:
    """Read-only probe (dry runs, pipeline_status): pg_locks shows the lock without touching it."""
    classid, objid = _lock_key(alias)
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = %s AND objid = %s)",
            [classid, objid % 2**32],  # pg_locks shows the int4 keys as unsigned oids
        )
        return cursor.fetchone()[0]


@contextmanager
def reindex_lock(alias: str):
    lock = ReindexLock(alias)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
