"""The drift sweep: beat re-verifies the rows changed in a rolling window against their documents and
repairs what differs, so a document a bug of ours left wrong heals without an operator.

One pass:
  1. the change rows (outbox, one per changed row) indexed between now - window and now - settle,
     newest first, at most `limit` (a range scan of the index on indexed_at), reduced to distinct
     (table, id) of the tables with an index of their own (PROJECTIONS; rows other documents only
     show, a user's name, are left to the fan-out and `verify`);
  2. per index, projection.drift.compare_ids: the database's projection against a realtime mget;
  3. drift is not yet drift while the row has a pending change of its own (its re-projection is on
     its way), nor in attempts and posts while a fan-out is pending (it is rewriting them); the
     rest is re-checked once after `settle` seconds, like `verify` does;
  4. what is still missing or stale is re-projected (documents.project_and_index: versioned, every
     write target) and checked again. Documents `ahead` of the database (a restore or a bug) and
     orphans cannot be fixed by a re-projection: they are logged and counted for an operator
     (`verify`, `reindex`) and never touched.
The window spans several beat periods, so a pass skipped under a backlog (its message expires)
leaves no change unchecked while the window holds fewer than `limit` changes. Every repair and
every unrepaired document is logged and counted (read_indexer.observability.metrics:
pipeline_drift_repaired_total, pipeline_drift_unrepaired_total); the last pass's summary is kept
in Redis for pipeline_status.
May touch: PostgreSQL (read), the indexes (read; versioned writes of drifted documents), one Redis key.
"""

from __future__ import annotations

import time
from collections import defaultdict

import orjson
import structlog
from django_redis import get_redis_connection

from read_indexer.observability.metrics import DRIFT_REPAIRED, DRIFT_UNREPAIRED
from read_indexer.projection import documents
from read_indexer.projection.drift import Drift, compare_ids
from write_service.read_model import outbox
from write_service.read_model.projections import PROJECTIONS

log = structlog.get_logger(__name__)

WINDOW_SECONDS = 120.0  # four beat periods (celery_app: every 30 s)
SETTLE_SECONDS = 3.0  # past the pipeline's commit-to-indexed p99 under full load (~1.5 s)
LIMIT = 5000  # change rows per pass: bounds the ids, so the pass stays a few bulk-sized requests
CHUNK = 1000  # ids per projection query and mget
LAST_SWEEP_KEY = "pipeline:drift_sweep:last"
LAST_SWEEP_TTL = 86400
SAMPLE = 20  # ids per log line

TABLE_INDEXES = {projection.table: name for name, projection in PROJECTIONS.items()}


def changed_ids(window_seconds: float, settle_seconds: float, limit: int) -> tuple[dict[str, list[int]], int]:
    """Distinct ids per index of the rows whose changes were indexed in the window; and the rows read."""
    rows = outbox.recently_indexed_rows(
        list(TABLE_INDEXES), window_seconds=window_seconds, settle_seconds=settle_seconds, limit=limit
    )
    ids: dict[str, set[int]] = defaultdict(set)
    for table, row_id in rows:
        ids[TABLE_INDEXES[table]].add(row_id)
    return {index_name: sorted(found) for index_name, found in ids.items()}, len(rows)


def _compare(index_name: str, ids: list[int]) -> Drift:
    alias, drift = PROJECTIONS[index_name].index.alias, Drift()
    for start in range(0, len(ids), CHUNK):
        drift.add(compare_ids(index_name, alias, ids[start : start + CHUNK]))
    return drift


def _without(drift: Drift, skip: set[int]) -> Drift:
    return Drift(
        missing=[i for i in drift.missing if i not in skip],
        stale=[i for i in drift.stale if i not in skip],
        ahead=[i for i in drift.ahead if i not in skip],
        orphan=[i for i in drift.orphan if int(i) not in skip],
    )


# Indexes whose documents a pending fan-out (an assessment deleted or moved, a user renamed) is
# still rewriting: they look drifted until it finishes, so a pass leaves them to the next one.
_FANOUT_CHILDREN = {"attempts", "posts"}


def _suspects(index_name: str, ids: list[int]) -> Drift:
    drift = _compare(index_name, ids)
    if not drift.total or (index_name in _FANOUT_CHILDREN and outbox.fanout_pending()):
        return Drift()
    return _without(drift, outbox.rows_with_pending_changes(PROJECTIONS[index_name].table, drift.row_ids()))


def _repair(index_name: str, drift: Drift) -> tuple[dict[str, list[int]], dict[str, list]]:
    """Re-projects the missing and stale ids; returns (repaired, unrepaired) ids by kind."""
    targets = sorted({*drift.missing, *drift.stale})
    for start in range(0, len(targets), CHUNK):
        documents.project_and_index(index_name, targets[start : start + CHUNK])
    # Still wrong after a versioned re-projection: e.g. a delete made in Elasticsearch directly
    # leaves a delete tombstone that refuses it for index.gc_deletes (a later pass retries).
    still = _compare(index_name, targets)
    still_wrong = {*still.missing, *still.stale, *still.ahead}
    repaired = {
        "missing": [i for i in drift.missing if i not in still_wrong],
        "stale": [i for i in drift.stale if i not in still_wrong],
    }
    unrepaired = {
        "ahead": drift.ahead + still.ahead,
        "orphan": drift.orphan + still.orphan,
        "missing": still.missing,
        "stale": still.stale,
    }
    return repaired, unrepaired


def sweep(
    *, window_seconds: float = WINDOW_SECONDS, settle_seconds: float = SETTLE_SECONDS, limit: int = LIMIT
) -> dict:
    """One pass over the window; returns (and stores for pipeline_status) a summary of counts."""
    by_index, rows = changed_ids(window_seconds, settle_seconds, limit)
    summary: dict = {
        "changes": rows,
        "truncated": rows >= limit,
        "checked": {name: len(ids) for name, ids in by_index.items()},
        "repaired": {},
        "unrepaired": {},
    }
    suspects = {name: drift for name, ids in by_index.items() if (drift := _suspects(name, ids)).total}
    if suspects:
        time.sleep(settle_seconds)  # only when something looks drifted: let writes in flight land
    for index_name, first in suspects.items():
        drift = _suspects(index_name, first.row_ids())
        if not drift.total:
            continue
        repaired, unrepaired = _repair(index_name, drift)
        _record(index_name, repaired, unrepaired, summary)
    summary["finished_at"] = time.time()
    get_redis_connection("default").set(LAST_SWEEP_KEY, orjson.dumps(summary), ex=LAST_SWEEP_TTL)
    return summary


def _record(index_name: str, repaired: dict[str, list[int]], unrepaired: dict[str, list], summary: dict) -> None:
    for kind, ids in repaired.items():
        if ids:
            DRIFT_REPAIRED.labels(index_name, kind).inc(len(ids))
            log.warning("drift_sweep.repaired", index=index_name, kind=kind, ids=ids[:SAMPLE], count=len(ids))
            summary["repaired"].setdefault(index_name, {})[kind] = len(ids)
    for kind, ids in unrepaired.items():
        if ids:
            DRIFT_UNREPAIRED.labels(index_name, kind).inc(len(ids))
            fix = f"manage.py reindex {index_name}" if kind == "ahead" else f"manage.py verify {index_name} --repair"
            log.warning(
                "drift_sweep.unrepaired", index=index_name, kind=kind, ids=ids[:SAMPLE], count=len(ids), fix=fix
            )
            summary["unrepaired"].setdefault(index_name, {})[kind] = len(ids)


def last_summary() -> dict | None:
    raw = get_redis_connection("default").get(LAST_SWEEP_KEY)
    return orjson.loads(raw) if raw else None
