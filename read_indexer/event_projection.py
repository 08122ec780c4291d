"""Turns a batch of captured row changes into re-projected documents (the indexing handler).

A change only says *which row* changed; the documents are re-read from PostgreSQL, so a
duplicated, reordered or late change can only ever (re)write the current state, with its version.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import structlog
from django.db import transaction
from django.utils import timezone

from read_indexer import lag
from read_indexer.documents import project_and_index
from shared import events
from write_service.assessments.models import Assessment, Attempt
from write_service.discussions.models import Post
from write_service.outbox.models import DeadLetter, OutboxEvent

log = structlog.get_logger(__name__)
BACKLOG_BATCH = 300  # other pending events one indexing task takes along (bounded task time)


# Tables whose rows are documents of their own; every other captured table reaches documents
# through a fan-out (users) or through the counters batch's update of the counted row (comments).
INDEX_OF_TABLE = {Assessment._meta.db_table: "assessments", Attempt._meta.db_table: "attempts",
                  Post._meta.db_table: "posts"}


@dataclass
class Targets:
    ids: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    # row.fanout changes: indexed only once every child document is re-projected (read_indexer.fanout).
    fanout_event_ids: list[int] = field(default_factory=list)


def route(event_type: str, change: events.RowChange, targets: Targets, event_id: int) -> None:
    if index_name := INDEX_OF_TABLE.get(change.table):
        targets.ids[index_name].add(change.id)  # a fan-out's own document too: at once, not after its children
    if event_type == events.RowChange.ROW_FANOUT:
        targets.fanout_event_ids.append(event_id)


def dead_letter(event: OutboxEvent, handler: str, error: str) -> None:
    with transaction.atomic(using="default"):
        OutboxEvent.objects.filter(pk=event.pk).update(dead_at=timezone.now(), last_error=error[:4000])
        DeadLetter.objects.update_or_create(
            event_id=event.pk, defaults={"handler": handler, "error": error[:4000], "attempts": event.relay_attempts}
        )
    log.error("outbox.dead_letter", event_id=event.pk, event_type=event.event_type, error=error[:500])


def project_events(event_ids: list[int], *, also_pending: int = 0) -> Targets:
    """Projects the given events, plus up to `also_pending` other unindexed ones (oldest first).

    One task per write costs a projection query and a bulk request per event; under load the
    queue then grows faster than it drains. Taking other pending events along turns a backlog into
    a few large batches (their own tasks later find them indexed: one cheap query), while an idle
    pipeline still indexes each write alone, at once.
    """
    pending = OutboxEvent.objects.using("default").filter(indexed_at__isnull=True, dead_at__isnull=True)
    rows = list(pending.filter(id__in=event_ids))
    if also_pending:
        own = [r.id for r in rows] or list(event_ids)
        # Not fan-outs: one stays pending while it runs, and every task would re-send it.
        others = pending.exclude(id__in=own).exclude(event_type=events.RowChange.ROW_FANOUT)
        rows += list(others.order_by("occurred_at")[:also_pending])
    targets = Targets()
    for row in rows:
        try:
            change = events.parse_event(row.event_type, row.payload)
            if isinstance(change, events.RowChange):  # a domain event has no document to write
                route(row.event_type, change, targets, row.id)
        except (ValueError, events.UnknownEventType) as exc:  # a contract bug: retrying cannot help
            dead_letter(row, "indexing", f"invalid event: {exc}")
    for index_name, ids in targets.ids.items():
        project_and_index(index_name, sorted(ids))
    # Fan-out changes stay unindexed for their fan-out (the relay re-sends one if it is lost).
    done = [r.id for r in rows if r.id not in targets.fanout_event_ids]
    OutboxEvent.objects.using("default").filter(id__in=done, indexed_at__isnull=True).update(indexed_at=timezone.now())
    lag.record([r.occurred_at for r in rows])
    return targets


def record_failure(event_ids: list[int], error: str) -> None:
    OutboxEvent.objects.using("default").filter(id__in=event_ids, indexed_at__isnull=True).update(last_error=error[:4000])
