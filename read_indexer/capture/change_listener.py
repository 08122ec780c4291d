"""Wakes the pipeline at each commit, whatever wrote it: LISTEN on the capture triggers' channel.

The capture triggers NOTIFY `outbox_capture` with the outbox ids a statement recorded; PostgreSQL
delivers a notification only when its transaction commits (a rollback sends nothing). This one
process turns the notifications of each 20 ms window into one indexing task for their ids and,
when counters have work, one coalesced counters flush, so a change typed into psql is searchable
in well under a second, like one made through the API. The write service publishes nothing: one process forwards every
writer's changes, and a request never waits on the broker.

It needs a direct connection to the primary: pgBouncer's transaction mode cannot LISTEN. Nothing
is lost while it is down or reconnecting: on (re)connect it forwards what is pending, and the
outbox relay (beat) re-sends anything still unprocessed after a few seconds regardless.
May touch: the primary (LISTEN, reads of pending outbox ids), Redis (the counters flag), the broker.
"""

from __future__ import annotations

import random
import select
import time
from dataclasses import dataclass, field

import psycopg2
import structlog

from read_indexer import task_names
from read_indexer.capture import counters_flag
from read_indexer.celery_app import app
from shared.config import load_config
from write_service.read_model import outbox

log = structlog.get_logger(__name__)
CHANNEL = outbox.CAPTURE_CHANNEL
IDS_PER_TASK = 500
# One task per window rather than per commit: under load a task then carries several writes (each
# task costs a worker round of SQL and a bulk request whatever it carries); idle, a write waits
# this much longer to be indexed.
COALESCE_SECONDS = 0.02
COUNTERS_COALESCE_SECONDS = 0.5
RECONNECT_SECONDS = 1.0


def schedule_counters_flush() -> None:
    ttl_ms = int(COUNTERS_COALESCE_SECONDS * 1000) + 5000
    if token := counters_flag.claim(ttl_ms):
        app.send_task(
            task_names.APPLY_COUNTERS,
            kwargs={"flag": token},
            countdown=COUNTERS_COALESCE_SECONDS + random.uniform(0, 0.05),
            expires=600,
        )


def forward(ids: list[int], *, counted: bool) -> None:
    for start in range(0, len(ids), IDS_PER_TASK):
        app.send_task(task_names.PROJECT_EVENTS, args=[ids[start : start + IDS_PER_TASK]])
    if counted:
        schedule_counters_flush()


@dataclass
class Batch:
    """The notifications of one coalescing window: one indexing task for all of their ids."""

    ids: set[int] = field(default_factory=set)
    counted: bool = False
    scan: bool = False

    def add(self, ids: list[int], counted: bool, scan: bool) -> None:
        self.ids.update(ids)
        self.counted, self.scan = self.counted or counted, self.scan or scan


def parse(payload: str) -> tuple[list[int], bool, bool]:
    """A notification's (ids to index, whether counters have work, whether to scan for the ids).

    Format, written by `outbox_capture()`: `c:` or `-:`, then comma-separated ids, or `*` when
    they did not fit a notification."""
    flags, _, ids = payload.partition(":")
    if ids == "*":
        return [], flags == "c", True
    return [int(i) for i in ids.split(",") if i], flags == "c", False


def connect_to_primary(application_name: str):
    """A direct autocommit session on the primary (pgBouncer's transaction mode can't LISTEN), with
    TCP keepalives so a vanished server is noticed within ~25 s even when nothing is sent."""
    config = load_config()
    connection = psycopg2.connect(
        host=config.pg_primary_host,
        port=config.pg_port,
        dbname=config.pg_db,
        user=config.pg_user,
        password=config.pg_password,
        application_name=application_name,
        connect_timeout=10,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
    )
    connection.autocommit = True
    return connection


def listen_once() -> None:
    """One connection's life: LISTEN, forward the backlog, then every notification until it drops."""
    connection = connect_to_primary("change_listener")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"LISTEN {CHANNEL}")
            ids, counted = outbox.pending_on(cursor)  # what committed while nobody listened
            forward(ids, counted=counted)
            log.info("listener.listening", channel=CHANNEL, backlog=len(ids))
            batch, due = Batch(), None
            while True:
                timeout = 30.0 if due is None else max(0.0, due - time.monotonic())
                if select.select([connection], [], [], timeout) == ([], [], []) and due is None:
                    cursor.execute("SELECT 1")  # notice a dead server even when nothing is written
                    continue
                connection.poll()
                while connection.notifies:
                    batch.add(*parse(connection.notifies.pop(0).payload))
                    due = due or time.monotonic() + COALESCE_SECONDS
                if due is not None and time.monotonic() >= due:
                    if batch.scan:
                        batch.ids.update(outbox.pending_on(cursor)[0])
                    forward(sorted(batch.ids), counted=batch.counted)
                    batch, due = Batch(), None
    finally:
        connection.close()


def run() -> None:
    while True:
        try:
            listen_once()
        except (psycopg2.Error, OSError) as exc:  # primary restarting, failover, network
            log.warning("listener.disconnected", error=f"{type(exc).__name__}: {exc}"[:300])
        except Exception as exc:  # the broker or Redis is down: same cure, reconnect and re-forward
            log.warning("listener.forward_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        time.sleep(RECONNECT_SECONDS)
