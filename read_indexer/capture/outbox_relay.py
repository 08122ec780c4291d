"""The slow path of delivery: republish events still unprocessed after a few seconds.

Tracks each event's own state (indexed_at / counters_applied_at), never a high-water mark over
ids: an id reserved by a transaction that commits later would be skipped by one. Events that
keep failing go to the dead-letter store with their last error.
"""

from __future__ import annotations

from datetime import timedelta

import structlog
from django.utils import timezone

from read_indexer import task_names
from read_indexer.observability import broker_queues
from write_service.read_model import outbox

log = structlog.get_logger(__name__)
RELAY_AFTER_SECONDS = 3
# Backoff doubles up to 30 s, so 20 relays span about 8 minutes before an event is dead-lettered.
MAX_RELAY_ATTEMPTS = 20
RELAY_BATCH = 2000
RETENTION_DAYS = 7
IDS_PER_TASK = 200


def claim_stale_events() -> tuple[list[int], bool]:
    """Returns (ids to republish for indexing, whether counters are behind)."""
    stale_before = timezone.now() - timedelta(seconds=RELAY_AFTER_SECONDS)
    ids = outbox.claim_for_resend(stale_before, max_attempts=MAX_RELAY_ATTEMPTS, limit=RELAY_BATCH)
    return ids, outbox.counters_behind(stale_before)


def counters_behind() -> bool:
    """Some event has waited RELAY_AFTER_SECONDS for its counters (its flush task was lost)."""
    return outbox.counters_behind(timezone.now() - timedelta(seconds=RELAY_AFTER_SECONDS))


def cleanup(retention_days: int = RETENTION_DAYS) -> dict[str, int]:
    return outbox.delete_processed(retention_days)


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


def changes_to_resend() -> tuple[list[int], bool]:
    """(ids to send for indexing again, whether counters are behind); nothing while the queue is deep."""
    if _queue_backed_up(task_names.QUEUE_INDEXING):
        return [], counters_behind()
    return claim_stale_events()
