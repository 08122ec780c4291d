"""Turns a batch of outbox events into re-projected documents (the indexing handler).

Events only say *what* changed; the documents are re-read from PostgreSQL, so a duplicated,
reordered or late event can only ever (re)write the current state, with its version.
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
from write_service.outbox.models import DeadLetter, OutboxEvent

log = structlog.get_logger(__name__)
BACKLOG_BATCH = 300  # other pending events one indexing task takes along (bounded task time)


@dataclass
class Targets:
    ids: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    # AssessmentDeleted events: indexed only once every attempt is a tombstone (deletion_fanout).
    deletion_event_ids: list[int] = field(default_factory=list)


def route(event: events.Event, targets: Targets, event_id: int) -> None:
    match event:
        case events.AssessmentCreated() | events.AssessmentUpdated() | events.AssessmentCutOffChanged():
            # Attempt documents show nothing of the assessment but its organisation and deletion:
            # status (visibility) and cut-off (qualified) are read through the assessment document.
            targets.ids["assessments"].add(event.assessment_id)
        case events.AssessmentDeleted():
            targets.ids["assessments"].add(event.assessment_id)
            targets.deletion_event_ids.append(event_id)
        case events.AttemptStarted() | events.AttemptSubmitted():
            targets.ids["attempts"].add(event.attempt_id)  # that one attempt, whatever its leaderboard's size
            targets.ids["assessments"].add(event.assessment_id)  # attempts_count, submitted_count
        case events.PostCreated() | events.PostUpdated() | events.PostDeleted():
            targets.ids["posts"].add(event.post_id)
        case events.CommentCreated() | events.CommentDeleted():
            targets.ids["posts"].add(event.post_id)  # again after the counters batch (comments_count)


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
        # Not deletions: one stays pending while its fan-out runs, and every task would re-send it.
        others = pending.exclude(id__in=own).exclude(event_type=events.AssessmentDeleted.event_type)
        rows += list(others.order_by("occurred_at")[:also_pending])
    targets = Targets()
    for row in rows:
        try:
            route(events.parse_event(row.event_type, row.payload), targets, row.id)
        except (ValueError, events.UnknownEventType) as exc:  # a contract bug: retrying cannot help
            dead_letter(row, "indexing", f"invalid event: {exc}")
    for index_name, ids in targets.ids.items():
        project_and_index(index_name, sorted(ids))
    # An event whose counters were applied after we read it was re-marked unindexed by that batch:
    # our documents predate the new counts, so leave it for the re-projection the batch scheduled.
    # Deletion events are left unindexed for their fan-out (the relay re-sends them if it is lost).
    now, done = timezone.now(), [r for r in rows if r.id not in targets.deletion_event_ids]
    uncounted_at_read = [r.id for r in done if r.counters_applied_at is None]
    counted_at_read = [r.id for r in done if r.counters_applied_at is not None]
    unindexed = OutboxEvent.objects.using("default").filter(indexed_at__isnull=True)
    unindexed.filter(id__in=uncounted_at_read, counters_applied_at__isnull=True).update(indexed_at=now)
    unindexed.filter(id__in=counted_at_read).update(indexed_at=now)
    lag.record([r.occurred_at for r in rows])
    return targets


def record_failure(event_ids: list[int], error: str) -> None:
    OutboxEvent.objects.using("default").filter(id__in=event_ids, indexed_at__isnull=True).update(last_error=error[:4000])
