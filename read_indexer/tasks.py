"""Celery tasks: thin, take ids, call a service of read_indexer. Names come from shared.task_names.

Every task here is idempotent, so late acks + reject-on-worker-lost (shared.celery_config) can
redeliver any of them after a crash without harm.
"""
from __future__ import annotations

import structlog
from celery import shared_task
from django.db import OperationalError
from django_redis import get_redis_connection
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout

from read_indexer import broker_queues, counters, event_projection, fanout, outbox_relay
from shared import task_names
from shared.celery_config import MAX_RETRIES, RETRY_BACKOFF_MAX

log = structlog.get_logger(__name__)
UNAVAILABLE = (OperationalError, EsConnectionError, EsConnectionTimeout)  # a server is down: nothing to fall back to
RETRYING = {
    "autoretry_for": (Exception,), "max_retries": MAX_RETRIES, "retry_backoff": 1,
    "retry_backoff_max": RETRY_BACKOFF_MAX, "retry_jitter": True,
}


@shared_task(name=task_names.PROJECT_EVENTS, bind=True, **RETRYING)
def project_events_task(self, event_ids: list[int]) -> dict:
    try:
        targets = _project_with_backlog(event_ids)
    except Exception as exc:
        event_projection.record_failure(event_ids, f"{type(exc).__name__}: {exc}")
        raise
    if targets.fanout_event_ids:  # fast path; the relay re-sends a fan-out change until it is done
        fan_out_task.delay(targets.fanout_event_ids)
    return {"events": len(event_ids)}


def _project_with_backlog(event_ids: list[int]) -> event_projection.Targets:
    """Our events plus the pending backlog; if the batch fails on its data, our events alone.

    A poison event taken along must not fail every task that meets it: the fallback indexes our
    own events now, and the poison one fails only in its own task (retries, then a dead letter).
    An unreachable Elasticsearch or PostgreSQL fails both alike, so it is raised at once.
    """
    try:
        return event_projection.project_events(event_ids, also_pending=event_projection.BACKLOG_BATCH)
    except UNAVAILABLE:
        raise
    except Exception as exc:
        log.warning("indexing.batch_failed", events=len(event_ids), error=f"{type(exc).__name__}: {exc}"[:500])
        return event_projection.project_events(event_ids)


_DELETE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@shared_task(name=task_names.APPLY_COUNTERS, bind=True, **RETRYING)
def apply_counters_task(self, limit: int = counters.BATCH_LIMIT, flag: str | None = None) -> dict:
    if flag:  # the flush the write path scheduled: clear its flag (only ours) before claiming
        get_redis_connection("default").eval(_DELETE_IF_OURS, 1, task_names.COUNTERS_SCHEDULED_KEY, flag)
    batch = counters.apply_counters_batch(limit)
    if batch.more_pending:
        apply_counters_task.delay(limit)
    return {"claimed": batch.claimed}


@shared_task(name=task_names.FAN_OUT, bind=True, **RETRYING)
def fan_out_task(self, event_ids: list[int]) -> dict:
    try:
        return {"written": fanout.fan_out(event_ids)}
    except Exception as exc:
        event_projection.record_failure(event_ids, f"{type(exc).__name__}: {exc}")
        raise


# The relay re-sends what was lost, not what is merely queued: with this many messages waiting,
# the workers are behind (or down), the stale work is still in the queue, and a re-send would
# only add duplicates to a backlog that is already the bottleneck.
RELAY_DEFERS_AT_QUEUE_DEPTH = {task_names.QUEUE_INDEXING: 500}


def _queue_backed_up(queue: str) -> bool:
    depth = broker_queues.depth(queue)
    if depth >= RELAY_DEFERS_AT_QUEUE_DEPTH[queue]:
        log.info("relay.deferred", queue=queue, depth=depth)
        return True
    return False


@shared_task(name=task_names.OUTBOX_RELAY)
def outbox_relay_task() -> dict:
    if _queue_backed_up(task_names.QUEUE_INDEXING):
        ids, counters_behind = [], outbox_relay.counters_behind()
    else:
        ids, counters_behind = outbox_relay.claim_stale_events()
    for start in range(0, len(ids), 200):
        project_events_task.delay(ids[start:start + 200])
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
    from read_indexer import drift_sweep

    return drift_sweep.sweep()
