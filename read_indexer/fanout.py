"""Fan-outs: a change that reaches every child document of a row.

Two changes do (the capture trigger marks them `row.fanout`): an assessment's deletion or move to
another organisation (every attempt document shows both), and a user's rename (every attempt and
post document shows the name). Everything else re-projects its own document only.

Its bookkeeping is the change's own outbox row. The indexing path leaves the row unindexed and
sends `fan_out_task` to the `fanout` queue (its own worker: a 100k-attempt assessment takes
seconds and must not hold up new documents). That task locks the row (FOR UPDATE SKIP LOCKED) for
the whole run and marks it indexed in the same transaction, after the last document is written:
- coalesced: a duplicate (the relay's, or a re-delivery) finds the row locked or indexed and
  returns at once; the outbox relay skips locked rows too, so it re-sends nothing while a run lasts;
- never lost: a killed worker's transaction rolls back, the row is unindexed again, and the
  outbox relay sends it again (dead-lettering it past its relays), like any other change.
Documents are versioned like every other write (external_gte), so a re-run is harmless.
May touch: the outbox rows of the given changes (lock, indexed_at), the rows read by projections,
the assessments, attempts and posts indexes (versioned writes).
"""
from __future__ import annotations

from collections.abc import Iterator

import structlog
from django.db import transaction
from django.utils import timezone

from read_indexer.documents import write_documents
from read_indexer.projections import PROJECTIONS, child_pages
from shared.events import RowChange
from write_service.accounts.models import User
from write_service.assessments.models import Assessment, Attempt
from write_service.discussions.models import Post
from write_service.outbox.models import OutboxEvent

log = structlog.get_logger(__name__)
PAGE_SIZE = 5000  # documents per projection statement and bulk


def _documents_reached(change: RowChange) -> Iterator[tuple[str, list[int]]]:
    """(index, page of row ids) of every child document the changed row shows in (the row's own
    document, if it has one, is written by the indexing path at once)."""
    if change.table == Assessment._meta.db_table:
        for ids in child_pages(Attempt._meta.db_table, "assessment_id", change.id, page_size=PAGE_SIZE):
            yield "attempts", ids
    elif change.table == User._meta.db_table:
        for ids in child_pages(Attempt._meta.db_table, "candidate_id", change.id, page_size=PAGE_SIZE):
            yield "attempts", ids
        for ids in child_pages(Post._meta.db_table, "author_id", change.id, page_size=PAGE_SIZE):
            yield "posts", ids


def fan_out(event_ids: list[int]) -> int:
    """Re-projects every document the given fan-out changes reach; returns documents written."""
    with transaction.atomic(using="default"):
        rows = list(OutboxEvent.objects.using("default").select_for_update(skip_locked=True).filter(
            id__in=event_ids, event_type=RowChange.ROW_FANOUT, indexed_at__isnull=True, dead_at__isnull=True))
        written = 0
        for row in rows:
            for index_name, ids in _documents_reached(RowChange.model_validate(row.payload)):
                written += write_documents(index_name, PROJECTIONS[index_name].project(ids))
        OutboxEvent.objects.using("default").filter(id__in=[row.id for row in rows]).update(indexed_at=timezone.now())
    if rows:
        log.info("fanout.documents_reprojected", changes=len(rows), documents=written)
    return written
