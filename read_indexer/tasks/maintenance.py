"""Queue `maintenance`: beat's periodic passes (relay, reconcile, cleanup, drift sweep) and the ping.

One beat schedules them (celery-redbeat's lock, read_indexer/celery_app.py), but workers on
several hosts take them: a pass that may not overlap itself says so below.
"""

from __future__ import annotations

from contextlib import contextmanager

import structlog
from celery import shared_task
from django_redis import get_redis_connection

from read_indexer import task_names
from read_indexer.capture import drift_sweep, outbox_relay
from read_indexer.tasks.counters import apply_counters_task
from read_indexer.tasks.indexing import project_events_task
from write_service.read_model import counters

log = structlog.get_logger(__name__)
# Longer than any drift sweep takes (bounded by drift_sweep.LIMIT); if its worker dies mid-pass,
# the next pass runs once this has passed.
DRIFT_SWEEP_LOCK_SECONDS = 120


@contextmanager
def exclusive(name: str, timeout: float):
    """Runs the body only if no other process holds `name` (a Redis lock); yields whether it runs."""
    lock = get_redis_connection("default").lock(f"lock:{name}", timeout=timeout, blocking=False)
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()


@shared_task(name=task_names.OUTBOX_RELAY)
def outbox_relay_task() -> dict:
    ids, counters_behind = outbox_relay.changes_to_resend()
    for start in range(0, len(ids), outbox_relay.IDS_PER_TASK):
        project_events_task.delay(ids[start : start + outbox_relay.IDS_PER_TASK])
    if counters_behind:
        apply_counters_task.delay()
    if ids:
        log.warning("outbox.relayed", events=len(ids), counters_behind=counters_behind)
    return {"relayed": len(ids), "counters_behind": counters_behind}


@shared_task(name=task_names.RECONCILE_COUNTERS)
def reconcile_counters_task() -> dict:
    repaired = counters.reconcile_recent()  # the repaired rows' own capture re-projects them
    return {table: len(ids) for table, ids in repaired.items()}


@shared_task(name=task_names.OUTBOX_CLEANUP)
def outbox_cleanup_task() -> dict:
    return outbox_relay.cleanup()


@shared_task(name=task_names.PING)
def ping_task(value: str) -> None:
    """Round-trip probe for smoke tests and readiness: the reply lands in Redis, not a result backend."""
    get_redis_connection("default").set(f"ping:{value}", f"pong:{value}", ex=60)


@shared_task(name=task_names.DRIFT_SWEEP)
def drift_sweep_task() -> dict:
    # Two passes at once would re-check and repair the same rows twice.
    with exclusive("drift_sweep", DRIFT_SWEEP_LOCK_SECONDS) as runs:
        if not runs:
            log.info("drift_sweep.skipped", reason="another pass is running")
            return {"skipped": True}
        return drift_sweep.sweep()
