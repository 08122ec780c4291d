"""The slow path of delivery: republish events still unprocessed after a few seconds.

Tracks each event's own state (indexed_at / counters_applied_at), never a high-water mark over
ids: an id reserved by a transaction that commits later would be skipped by one. Events that
keep failing go to the dead-letter store with their last error.
"""
from __future__ import annotations

from datetime import timedelta

import structlog
from django.db import connections, transaction
from django.utils import timezone

from read_indexer.event_projection import dead_letter
from django.conf import settings

from write_service.outbox.models import OutboxEvent
from write_service.platform.models import IdempotencyRecord

log = structlog.get_logger(__name__)
RELAY_AFTER_SECONDS = 3
# Backoff doubles up to 30 s, so 20 relays span about 8 minutes before an event is dead-lettered.
MAX_RELAY_ATTEMPTS = 20
RELAY_BATCH = 2000
RETENTION_DAYS = 7


def claim_stale_events() -> tuple[list[int], bool]:
    """Returns (ids to republish for indexing, whether counters are behind)."""
    now = timezone.now()
    stale_before = now - timedelta(seconds=RELAY_AFTER_SECONDS)
    with transaction.atomic(using="default"):
        rows = list(
            OutboxEvent.objects.using("default").select_for_update(skip_locked=True)
            .filter(indexed_at__isnull=True, dead_at__isnull=True, occurred_at__lt=stale_before)
            .exclude(next_relay_at__gt=now)
            .order_by("occurred_at")[:RELAY_BATCH]
        )
        republish = []
        for row in rows:
            if row.relay_attempts >= MAX_RELAY_ATTEMPTS:
                dead_letter(row, "indexing", row.last_error or "not indexed after repeated relays")
                continue
            republish.append(row.id)
        if republish:
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    "UPDATE outbox_outboxevent SET relay_attempts = relay_attempts + 1, "
                    "next_relay_at = now() + make_interval(secs => LEAST(30, power(2, relay_attempts + 1)::int)) "
                    "WHERE id = ANY(%s)",
                    [republish],
                )
    return republish, counters_behind(stale_before)


def counters_behind(stale_before=None) -> bool:
    """Some event has waited RELAY_AFTER_SECONDS for its counters (its flush task was lost)."""
    stale_before = stale_before or timezone.now() - timedelta(seconds=RELAY_AFTER_SECONDS)
    return OutboxEvent.objects.using("default").filter(
        counters_applied_at__isnull=True, dead_at__isnull=True, occurred_at__lt=stale_before
    ).exists()


def cleanup(retention_days: int = RETENTION_DAYS) -> dict[str, int]:
    cutoff = timezone.now() - timedelta(days=retention_days)
    deleted_events, _ = (
        OutboxEvent.objects.using("default")
        .filter(indexed_at__lt=cutoff, counters_applied_at__isnull=False, dead_at__isnull=True)
        .delete()
    )
    key_cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    expired_keys, _ = IdempotencyRecord.objects.using("default").filter(created_at__lt=key_cutoff).delete()
    return {"events": deleted_events, "idempotency_records": expired_keys}
