"""Queue `maintenance`: beat's periodic passes (relay, reconcile, cleanup, drift sweep) and the ping."""

from __future__ import annotations

import structlog
from celery import shared_task
from django_redis import get_redis_connection

from read_indexer import task_names
from read_indexer.capture import drift_sweep, outbox_relay
from read_indexer.tasks.counters import apply_counters_task
from read_indexer.tasks.indexing import project_events_task
from write_service.read_model import counters

log = structlog.get_logger(__name__)


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
    return drift_sweep.sweep()
