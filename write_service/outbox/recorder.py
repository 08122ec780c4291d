"""Records a domain event into the outbox inside the caller's transaction.

Row changes need no call here: the capture triggers record them, whatever wrote the row (see
write_service/outbox/migrations/0002_capture_triggers.py). A domain event says what a row change
does not; no pipeline handler waits for it, so it is recorded as already handled.
"""
from __future__ import annotations

from django.db import connection
from django.db.models.functions import Now

from shared.events import Event
from write_service.outbox.models import OutboxEvent


def record_event(event: Event) -> OutboxEvent:
    if not connection.in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change it describes")
    return OutboxEvent.objects.create(
        event_type=event.event_type, payload=event.model_dump(mode="json"),
        occurred_at=Now(), counters_applied_at=Now(), indexed_at=Now(),
    )
