"""Turns a batch of captured row changes into re-projected documents (the indexing handler).

A change only says *which row* changed; the documents are re-read from PostgreSQL, so a
duplicated, reordered or late change can only ever (re)write the current state, with its version.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import structlog
from django.db import OperationalError
from elasticsearch import ConnectionError as EsConnectionError
from elasticsearch import ConnectionTimeout as EsConnectionTimeout

from read_indexer.observability import lag
from read_indexer.projection.documents import project_and_index
from shared import events
from write_service.read_model import outbox
from write_service.read_model.projections import INDEX_OF_TABLE

log = structlog.get_logger(__name__)
BACKLOG_BATCH = 300  # other pending events one indexing task takes along (bounded task time)
UNAVAILABLE = (OperationalError, EsConnectionError, EsConnectionTimeout)  # a server is down: nothing to fall back to


@dataclass
class Targets:
    ids: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    # row.fanout changes: indexed only once every child document is re-projected (read_indexer.projection.fanout).
    fanout_event_ids: list[int] = field(default_factory=list)


def route(event_type: str, change: events.RowChange, targets: Targets, event_id: int) -> None:
    if index_name := INDEX_OF_TABLE.get(change.table):
        targets.ids[index_name].add(change.id)  # a fan-out's own document too: at once, not after its children
    if event_type == events.RowChange.ROW_FANOUT:
        targets.fanout_event_ids.append(event_id)


def project_events(event_ids: list[int], *, also_pending: int = 0) -> Targets:
    """Projects the given events, plus up to `also_pending` other unindexed ones (oldest first).

    One task per write costs a projection query and a bulk request per event; under load the
    queue then grows faster than it drains. Taking other pending events along turns a backlog into
    a few large batches (their own tasks later find them indexed: one cheap query), while an idle
    pipeline still indexes each write alone, at once.
    """
    rows = outbox.pending(event_ids, also_pending=also_pending)
    targets = Targets()
    for row in rows:
        try:
            route(row.event_type, events.parse_event(row.event_type, row.payload), targets, row.id)
        except (ValueError, events.UnknownEventType) as exc:  # a contract bug: retrying cannot help
            outbox.dead_letter(row, "indexing", f"invalid event: {exc}")
    for index_name, ids in targets.ids.items():
        project_and_index(index_name, sorted(ids))
    # Fan-out changes stay unindexed for their fan-out (the relay re-sends one if it is lost).
    done = [r.id for r in rows if r.id not in targets.fanout_event_ids]
    outbox.mark_indexed(done)
    lag.record([r.occurred_at for r in rows])
    return targets


def record_failure(event_ids: list[int], error: str) -> None:
    outbox.record_failure(event_ids, error)


def project_with_backlog(event_ids: list[int]) -> Targets:
    """Our events plus the pending backlog; if the batch fails on its data, our events alone.

    A poison event taken along must not fail every task that meets it: the fallback indexes our
    own events now, and the poison one fails only in its own task (retries, then a dead letter).
    An unreachable Elasticsearch or PostgreSQL fails both alike, so it is raised at once.
    """
    try:
        return project_events(event_ids, also_pending=BACKLOG_BATCH)
    except UNAVAILABLE:
        raise
    except Exception as exc:
        log.warning("indexing.batch_failed", events=len(event_ids), error=f"{type(exc).__name__}: {exc}"[:500])
        return project_events(event_ids)
