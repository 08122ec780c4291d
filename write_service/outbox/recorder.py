"""Records events into the outbox inside the caller's transaction, and publishes after commit.

This is the only way the write side emits events (the one event publisher). Nothing is sent to
the broker inside a transaction: `transaction.on_commit` sends after commit, and if that send
fails (broker down, process killed) the periodic relay sends the event later. See
docs/ARCHITECTURE.md, "The flow of one write".
"""
from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction
from django.db.models.functions import Now

from shared.events import Event
from write_service.outbox import publisher
from write_service.outbox.models import OutboxEvent

# Lets the benchmark measure the cost of events (write_with_events_throughput_ratio); never off
# in a real deployment.
EVENTS_ENABLED_SETTING = "OUTBOX_EVENTS_ENABLED"


def record_event(event: Event) -> OutboxEvent | None:
    if not getattr(settings, EVENTS_ENABLED_SETTING, True):
        return None
    if not connection.in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change it describes")
    row = OutboxEvent.objects.create(
        event_type=event.event_type,
        payload=event.model_dump(mode="json"),
        # now() is the transaction's start time: close to the commit of our short transactions.
        occurred_at=Now(),
    )
    _pending_ids_for_this_transaction().append(row.id)
    return row


class _PublishAfterCommit:
    """One on_commit callback per transaction, carrying every event id recorded in it."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self) -> None:
        publisher.publish_event_ids(self.ids)


def _pending_ids_for_this_transaction() -> list[int]:
    # Django drops callbacks of rolled-back (savepoint) blocks from run_on_commit, so looking the
    # callback up there never reuses one whose transaction is gone.
    for _savepoints, callback, _robust in connection.run_on_commit:
        if isinstance(callback, _PublishAfterCommit):
            return callback.ids
    callback = _PublishAfterCommit()
    transaction.on_commit(callback, robust=True)
    return callback.ids
