"""The one fan-out left: deleting an assessment turns every attempt document of it into a tombstone.

Its bookkeeping is the deletion event's own outbox row. The indexing path writes the assessment's
tombstone but leaves the event unindexed, and sends `tombstone_attempts_task` to the `fanout`
queue (its own worker: a 100k-attempt assessment takes seconds and must not hold up new
documents). That task locks the event row (FOR UPDATE SKIP LOCKED) for the whole run and marks it
indexed in the same transaction, after the last attempt is written:
- coalesced: a duplicate (the relay's, or a re-delivery) finds the row locked or indexed and
  returns at once; the outbox relay skips locked rows too, so it re-sends nothing while a run lasts;
- never lost: a killed worker's transaction rolls back, the event is unindexed again, and the
  outbox relay sends it again (dead-lettering it past its relays), like any other event.
Attempt documents are versioned like every other write (external_gte), so a re-run is harmless.
May touch: the outbox rows of the given events (lock, indexed_at), attempt rows (read), the
attempts index (versioned writes).
"""
from __future__ import annotations

import structlog
from django.db import transaction
from django.utils import timezone

from read_indexer.documents import write_documents
from read_indexer.projections import PROJECTIONS, assessment_attempt_pages
from shared import events
from write_service.outbox.models import OutboxEvent

log = structlog.get_logger(__name__)
PAGE_SIZE = 5000  # attempts per projection statement and bulk


def tombstone_attempts(event_ids: list[int]) -> int:
    """Re-projects every attempt of the deleted assessments of these events; returns documents written."""
    with transaction.atomic(using="default"):
        rows = list(OutboxEvent.objects.using("default").select_for_update(skip_locked=True).filter(
            id__in=event_ids, event_type=events.AssessmentDeleted.event_type,
            indexed_at__isnull=True, dead_at__isnull=True))
        written = 0
        for assessment_id in sorted({row.payload["assessment_id"] for row in rows}):
            for ids in assessment_attempt_pages(assessment_id, page_size=PAGE_SIZE):
                written += write_documents("attempts", PROJECTIONS["attempts"].project(ids))
        OutboxEvent.objects.using("default").filter(id__in=[row.id for row in rows]).update(indexed_at=timezone.now())
    if rows:
        log.info("fanout.attempts_tombstoned", events=len(rows), documents=written)
    return written
