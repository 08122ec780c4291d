"""Exact, coalesced counters (Zulip's batch-consumer shape), from captured row changes.

A batch claims unapplied changes by setting `counters_applied_at` on their outbox rows in the same
transaction as the increments, so an event counts exactly once however often it is delivered,
and a hot row gets one UPDATE per batch, not one per event. A global advisory lock serialises
batches with the reconciliation, which recounts recently active rows and repairs drift.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import orjson
import structlog
from django.db import connections, transaction

from shared.events import ROW_CHANGE_TYPES, RowChange
from write_service.assessments.models import Assessment, Attempt, AttemptStatus
from write_service.discussions.models import Comment, Post
from write_service.outbox.models import OutboxEvent

log = structlog.get_logger(__name__)
COUNTERS_LOCK_ID = 7_240_001
BATCH_LIMIT = 5000

# Counted table -> (its parent key, the counter table, how one row counts there). A row counts
# by its old values negatively and its new values positively, so an insert, a delete, a soft
# delete, an undelete and a move to another parent all come out exact, whoever wrote them.
COMMENTS, POSTS = Comment._meta.db_table, Post._meta.db_table
ATTEMPTS, ASSESSMENTS = Attempt._meta.db_table, Assessment._meta.db_table
OUTBOX = OutboxEvent._meta.db_table


def _counts(table: str, values: dict | None) -> list[tuple[str, int, str]]:
    """(counter table, counter row, column) a row with these key values counts in."""
    if values is None:
        return []
    if table == COMMENTS:
        return [(POSTS, values["post_id"], "comments_count")] if values["deleted_at"] is None else []
    if table == ATTEMPTS:
        counted = [(ASSESSMENTS, values["assessment_id"], "attempts_count")]
        if values["status"] == AttemptStatus.SUBMITTED:
            counted.append((ASSESSMENTS, values["assessment_id"], "submitted_count"))
        return counted
    return []


@dataclass
class CounterBatch:
    claimed: int = 0
    rows_updated: dict[str, list[int]] = field(default_factory=dict)
    more_pending: bool = False


def _claim(cursor, limit: int) -> list[tuple[int, str, dict, datetime]]:
    # now() is the batch transaction's timestamp: every event of a batch shares it, so operators
    # (and tests) can tell batches apart.
    cursor.execute(
        f"""
        UPDATE {OUTBOX} SET counters_applied_at = now()
        WHERE id IN (
            SELECT id FROM {OUTBOX}
            WHERE counters_applied_at IS NULL AND dead_at IS NULL
            ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)
        RETURNING id, event_type, payload, occurred_at
        """,
        [limit],
    )
    return cursor.fetchall()


def _apply_deltas(cursor, table: str, deltas: dict[int, dict[str, int]]) -> list[int]:
    """One UPDATE statement per table per batch, touching each row once."""
    if not deltas:
        return []
    columns = sorted({column for per_row in deltas.values() for column in per_row})
    values, params = [], []
    for row_id, per_row in sorted(deltas.items()):
        values.append("(%s::bigint" + ", %s::bigint" * len(columns) + ")")
        params.extend([row_id, *(per_row.get(c, 0) for c in columns)])
    assignments = [f"{c} = t.{c} + v.{c}" for c in columns]
    if table == POSTS:
        # Recomputed (one index probe on comment_post_created), not GREATEST with the new events:
        # deleting the latest comment must give the post back its previous activity time.
        assignments.append(
            f"last_activity_at = COALESCE((SELECT MAX(c.created_at) FROM {COMMENTS} c"
            " WHERE c.post_id = t.id AND c.deleted_at IS NULL), t.created_at)"
        )
    cursor.execute(
        f"""
        UPDATE {table} AS t SET {", ".join(assignments)}
        FROM (VALUES {", ".join(values)}) AS v(id, {", ".join(columns)})
        WHERE t.id = v.id
        RETURNING t.id
        """,
        params,
    )
    return [row[0] for row in cursor.fetchall()]


def apply_counters_batch(limit: int = BATCH_LIMIT) -> CounterBatch:
    batch = CounterBatch()
    with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [COUNTERS_LOCK_ID])
        events = _claim(cursor, limit)
        batch.claimed = len(events)
        batch.more_pending = len(events) == limit
        deltas: dict[str, dict[int, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        for _event_id, event_type, payload, _occurred_at in events:
            if event_type not in ROW_CHANGE_TYPES:
                continue
            # Django's PostgreSQL backend hands raw jsonb back as text.
            change = RowChange.model_validate(orjson.loads(payload) if isinstance(payload, str) else payload)
            for values, delta in ((change.old, -1), (change.new, +1)):
                for table, row_id, column in _counts(change.table, values):
                    per_row = deltas[table][row_id]
                    per_row[column] = per_row.get(column, 0) + delta
        # The counted rows' own capture re-projects their documents (posts, assessments).
        for table, per_table in deltas.items():
            batch.rows_updated[table] = _apply_deltas(cursor, table, per_table)
    if batch.claimed:
        log.info(
            "counters.batch_applied",
            events=batch.claimed,
            rows={table: len(ids) for table, ids in batch.rows_updated.items()},
        )
    return batch


# Repeated inside each repair statement: a separate check runs on an earlier snapshot, so a row
# committed between the two would be counted by the repair *and* by its still-pending event.
_PENDING_COUNTER_EVENT = f"SELECT 1 FROM {OUTBOX} WHERE counters_applied_at IS NULL AND dead_at IS NULL"
_RECONCILE_SQL = {
    POSTS: f"""
        UPDATE {POSTS} AS t SET comments_count = c.actual
        FROM (
            SELECT p.id, (SELECT COUNT(*) FROM {COMMENTS} c
                          WHERE c.post_id = p.id AND c.deleted_at IS NULL) AS actual
            FROM {POSTS} p WHERE p.last_activity_at >= now() - make_interval(secs => %s)
        ) AS c
        WHERE t.id = c.id AND t.comments_count <> c.actual AND NOT EXISTS ({{pending}})
        RETURNING t.id, c.actual
    """,
    ASSESSMENTS: f"""
        UPDATE {ASSESSMENTS} AS t
        SET attempts_count = c.attempts, submitted_count = c.submitted
        FROM (
            SELECT a.assessment_id AS id, COUNT(*) AS attempts,
                   COUNT(*) FILTER (WHERE a.status = 'submitted') AS submitted
            FROM {ATTEMPTS} a
            WHERE a.assessment_id IN (SELECT DISTINCT assessment_id FROM {ATTEMPTS}
                                      WHERE started_at >= now() - make_interval(secs => %s)
                                         OR submitted_at >= now() - make_interval(secs => %s))
            GROUP BY a.assessment_id
        ) AS c
        WHERE t.id = c.id AND (t.attempts_count <> c.attempts OR t.submitted_count <> c.submitted)
          AND NOT EXISTS ({{pending}})
        RETURNING t.id, c.attempts
    """,
}
_RECONCILE_SQL = {table: sql.replace("{pending}", _PENDING_COUNTER_EVENT) for table, sql in _RECONCILE_SQL.items()}


def reconcile_recent(window_seconds: int = 900) -> dict[str, list[int]]:
    """Recounts rows active in the window; only when no counter event is pending (else it is lag)."""
    repaired: dict[str, list[int]] = {}
    with transaction.atomic(using="default"), connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [COUNTERS_LOCK_ID])
        cursor.execute(f"SELECT EXISTS ({_PENDING_COUNTER_EVENT})")
        if cursor.fetchone()[0]:  # cheap early exit; each repair statement checks again in its own snapshot
            return repaired
        for table, sql in _RECONCILE_SQL.items():
            cursor.execute(sql, [window_seconds] * sql.count("%s"))
            rows = cursor.fetchall()
            if rows:
                repaired[table] = [row[0] for row in rows]
                log.warning("counters.drift_repaired", table=table, rows=rows[:50], count=len(rows))
    return repaired
