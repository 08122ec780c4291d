"""Publishes the searchable horizon (shared/consistency.py) while someone waits on a token.

Every 100 ms while a waiter keeps `consistency:demand` alive, it reads one processing record from
the primary (snapshot xmin, oldest unfinished change, newest change) and looks for the newest
record that is closed: a record whose changes were all done, and whose follow-ups are done too.
A counters batch claims a change and records its follow-up (the post's or assessment's new
counts) in one transaction, so every follow-up of a change done at record p has an id at or below
p's newest id; once a later record's oldest unfinished id is above that, p is closed. Then one
tiny bulk with `refresh=wait_for` on every index (deletes of an id that never exists) returns at
the next scheduled refresh, which makes everything indexed before it searchable, and the horizon is
published: a Redis key plus a pub/sub message the waiting requests hear.

Nothing runs while nobody waits but a Redis EXISTS every 50 ms, and nothing ever forces a refresh.
Any number of publishers may run (one per change listener): each publishes only true horizons.
May touch: the primary (one read-only snapshot per 100 ms while demanded), Redis, Elasticsearch.
"""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import structlog
from django_redis import get_redis_connection

from read_indexer.capture.change_listener import connect_to_primary
from shared.config import load_config
from shared.consistency import DEMAND_KEY, HORIZON_KEY, Horizon, horizon_channel
from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from write_service.read_model import outbox

log = structlog.get_logger(__name__)
RECORD_EVERY_SECONDS = 0.1
IDLE_POLL_SECONDS = 0.05
RECONNECT_SECONDS = 1.0
MARKER_ID = "consistency-refresh-marker"  # never a document id: those are integers
OPEN_RECORDS_KEPT = 100


@dataclass(frozen=True)
class ProcessingRecord:
    xmin: int
    watermark: int  # every change below it, visible to this record's snapshot, was done
    newest: int

    @classmethod
    def from_row(cls, xmin: int, oldest_unfinished: int | None, newest: int) -> ProcessingRecord:
        return cls(xmin, newest + 1 if oldest_unfinished is None else oldest_unfinished, newest)


class Closure:
    """The records taken so far that no later record has closed yet, oldest first."""

    def __init__(self) -> None:
        self._open: list[ProcessingRecord] = []

    def add(self, record: ProcessingRecord) -> Horizon | None:
        """The newest horizon that `record` closes (itself included), if any."""
        self._open.append(record)
        closed = [index for index, held in enumerate(self._open) if held.newest < record.watermark]
        if not closed:
            del self._open[:-OPEN_RECORDS_KEPT]
            return None
        newest_closed = self._open[closed[-1]]
        del self._open[: closed[-1] + 1]
        return Horizon(newest_closed.xmin, newest_closed.watermark)


class Publisher:
    def __init__(self) -> None:
        self._redis = get_redis_connection("default")
        self._channel = horizon_channel(load_config().pg_db)
        self._markers = ThreadPoolExecutor(max_workers=16, thread_name_prefix="horizon-marker")
        self._sequence = itertools.count()
        self._published_sequence = -1
        self._lock = threading.Lock()
        self._marker_body = "".join(
            f'{{"delete":{{"_index":"{definition.alias}","_id":"{MARKER_ID}"}}}}\n'
            for definition in ALL_INDEXES.values()
        )

    def _demanded(self) -> bool:
        return bool(self._redis.exists(DEMAND_KEY))

    def _confirm_and_publish(self, horizon: Horizon, sequence: int) -> None:
        try:
            get_es_client().bulk(body=self._marker_body, refresh="wait_for", filter_path="errors")
        except Exception as exc:  # Elasticsearch away: the next record tries again
            log.warning("horizon.marker_failed", error=f"{type(exc).__name__}: {exc}"[:300])
            return
        with self._lock:
            if sequence <= self._published_sequence:
                return  # a newer horizon was published already
            self._published_sequence = sequence
        encoded = horizon.encode()
        self._redis.set(HORIZON_KEY, encoded)
        self._redis.publish(self._channel, encoded)

    def serve_once(self, stop: threading.Event) -> None:
        """One primary connection's life: records while demanded, idle polls otherwise."""
        connection = connect_to_primary("searchable_horizon")
        closure, last_submitted = Closure(), None
        try:
            with connection.cursor() as cursor:
                while not stop.is_set():
                    if not self._demanded():
                        stop.wait(IDLE_POLL_SECONDS)
                        continue
                    started = time.monotonic()
                    horizon = closure.add(ProcessingRecord.from_row(*outbox.processing_record_on(cursor)))
                    if horizon is not None and horizon != last_submitted:
                        self._markers.submit(self._confirm_and_publish, horizon, next(self._sequence))
                        last_submitted = horizon
                    stop.wait(max(0.0, RECORD_EVERY_SECONDS - (time.monotonic() - started)))
        finally:
            connection.close()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.serve_once(stop)
            except Exception as exc:  # primary restarting, failover, Redis away: reconnect
                log.warning("horizon.disconnected", error=f"{type(exc).__name__}: {exc}"[:300])
                stop.wait(RECONNECT_SECONDS)


def start() -> threading.Event:
    """Run the publisher in a daemon thread of this process; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=Publisher().run, args=(stop,), name="searchable-horizon", daemon=True).start()
    return stop
