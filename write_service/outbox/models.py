"""The transactional outbox: one row per committed change, written in the change's transaction.

Each handler (counters, projection) tracks its own completion on the event row itself, so the
relay finds unfinished events by their own state, never by a high-water mark over ids (ids
reserved by transactions that commit later would be skipped). See docs/ARCHITECTURE.md.
"""

from django.db import models
from django.db.models import Q


class OutboxEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    # Statement time of the writing transaction: the commit-to-indexed lag is measured from it.
    occurred_at = models.DateTimeField()
    # NULL until the counters handler has applied (or skipped) this event, in the same transaction
    # as its increment: this column is the exactly-once bookkeeping of counters.
    counters_applied_at = models.DateTimeField(null=True, blank=True)
    indexed_at = models.DateTimeField(null=True, blank=True)
    relay_attempts = models.PositiveIntegerField(default=0)
    next_relay_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    dead_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["occurred_at"],
                name="outbox_unindexed",
                condition=Q(indexed_at__isnull=True, dead_at__isnull=True),
            ),
            models.Index(
                fields=["id"],
                name="outbox_uncounted",
                condition=Q(counters_applied_at__isnull=True, dead_at__isnull=True),
            ),
            models.Index(fields=["indexed_at"], name="outbox_indexed_at"),
        ]


class DeadLetter(models.Model):
    """An event that kept failing, with its last error; operators list, replay or discard it."""

    event = models.OneToOneField(OutboxEvent, on_delete=models.CASCADE, related_name="dead_letter")
    handler = models.CharField(max_length=32)
    error = models.TextField()
    failed_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField()
