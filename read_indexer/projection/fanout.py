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
the assessments, attempts, posts and comments indexes (versioned writes).
"""

from __future__ import annotations

import structlog

from read_indexer.projection.documents import write_documents
from write_service.read_model import outbox
from write_service.read_model.projections import PROJECTIONS, documents_reached

log = structlog.get_logger(__name__)
PAGE_SIZE = 5000  # documents per projection statement and bulk


def fan_out(event_ids: list[int]) -> int:
    """Re-projects every document the given fan-out changes reach; returns documents written."""
    written = 0
    with outbox.locked_fanouts(event_ids) as changes:
        for change in changes:
            for index_name, ids in documents_reached(change, page_size=PAGE_SIZE):
                written += write_documents(index_name, PROJECTIONS[index_name].project(ids))
    if changes:
        log.info("fanout.documents_reprojected", changes=len(changes), documents=written)
    return written
