"""Reads of assessments and attempts, with derived metrics computed by PostgreSQL.

Definitions (also in the README):
- time_taken_seconds = submitted_at - started_at.
- rank: RANK() by score desc, then time taken asc, among submitted attempts of the assessment;
  equal score and equal time share a rank.
- percentile: the share of the assessment's submitted attempts with a strictly lower score, in
  percent (0 for the lowest score, < 100 always): (RANK() by score asc - 1) * 100 / COUNT(*).
- qualified: score >= the assessment's *current* cut_off.
- doc_version: the sum of the versions of every row the row is derived from (attempt, assessment,
  candidate), read in the same snapshot; the projection indexes with it (external_gte).
"""
from __future__ import annotations

from django.db import connections

# Shared by both shapes below: every column of an attempt document but rank and percentile.
_ATTEMPT_COLUMNS = """
SELECT a.id AS attempt_id, a.assessment_id, s.organisation_id, s.status AS assessment_status,
       a.candidate_id, COALESCE(NULLIF(u.display_name, ''), u.username) AS candidate_display_name,
       a.status, a.score, a.started_at, a.submitted_at,
       EXTRACT(EPOCH FROM (a.submitted_at - a.started_at))::float8 AS time_taken_seconds,
       {rank} AS rank, {percentile}::float8 AS percentile,
       CASE WHEN a.status = 'submitted' THEN a.score >= s.cut_off END AS qualified,
       (s.deleted_at IS NOT NULL) AS deleted,
       a.version + s.version + u.version AS doc_version
FROM assessments_attempt a
JOIN assessments_assessment s ON s.id = a.assessment_id
JOIN accounts_user u ON u.id = a.candidate_id
"""

# Whole assessments (fan-out, rebuilds): one window pass ranks every attempt of each.
_WHOLE_ASSESSMENTS_SQL = """
WITH board AS (
    SELECT a.id,
           RANK() OVER (PARTITION BY a.assessment_id
                        ORDER BY a.score DESC, (a.submitted_at - a.started_at) ASC) AS rank,
           (RANK() OVER (PARTITION BY a.assessment_id ORDER BY a.score ASC) - 1) * 100.0
               / COUNT(*) OVER (PARTITION BY a.assessment_id) AS percentile
    FROM assessments_attempt a
    WHERE a.status = 'submitted' AND a.assessment_id = ANY(%s)
)
""" + _ATTEMPT_COLUMNS.format(rank="b.rank", percentile="b.percentile") + """
LEFT JOIN board b ON b.id = a.id
WHERE a.assessment_id = ANY(%s)
ORDER BY a.id
"""

# A few attempts (one event's worth): the same rank and percentile by counting, on the
# attempt_board index, instead of sorting whole assessments: a window over a 100k-attempt
# leaderboard for one new attempt cost the indexing path a full sort per event.
# rank = 1 + attempts ahead (higher score, or equal score in less time); percentile = share
# with a strictly lower score. tests/write_service/test_derived_metrics.py checks both shapes.
_SOME_ATTEMPTS_SQL = """
WITH board AS (
    SELECT a.id,
           1 + (SELECT count(*) FROM assessments_attempt o
                WHERE o.assessment_id = a.assessment_id AND o.status = 'submitted' AND o.score > a.score)
             + (SELECT count(*) FROM assessments_attempt o
                WHERE o.assessment_id = a.assessment_id AND o.status = 'submitted' AND o.score = a.score
                  AND (o.submitted_at - o.started_at) < (a.submitted_at - a.started_at)) AS rank,
           (SELECT count(*) FROM assessments_attempt o
            WHERE o.assessment_id = a.assessment_id AND o.status = 'submitted' AND o.score < a.score) * 100.0
             / (SELECT count(*) FROM assessments_attempt o
                WHERE o.assessment_id = a.assessment_id AND o.status = 'submitted') AS percentile
    FROM assessments_attempt a
    WHERE a.status = 'submitted' AND a.id = ANY(%s)
)
""" + _ATTEMPT_COLUMNS.format(rank="b.rank", percentile="b.percentile") + """
LEFT JOIN board b ON b.id = a.id
WHERE a.id = ANY(%s)
ORDER BY a.id
"""


def _fetch_dicts(alias: str, sql: str, params: list) -> list[dict]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        columns = [col.name for col in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def attempts_with_metrics(*, attempt_ids: list[int] | None = None, assessment_ids: list[int] | None = None,
                          using: str = "default") -> list[dict]:
    """Attempts (any status) with derived metrics; ranks are always over whole assessments.

    Projections read from the primary (`using="default"`): a projection must see the state the
    event was committed with, and the replica may lag behind it.
    """
    if (attempt_ids is None) == (assessment_ids is None):
        raise ValueError("pass exactly one of attempt_ids or assessment_ids")
    sql, ids = (_SOME_ATTEMPTS_SQL, attempt_ids) if attempt_ids is not None else (_WHOLE_ASSESSMENTS_SQL, assessment_ids)
    return _fetch_dicts(using, sql, [list(ids), list(ids)])


def leaderboard(*, assessment_id: int, using: str = "default") -> list[dict]:
    """Submitted attempts of one assessment in rank order (rank, then attempt id)."""
    rows = [r for r in attempts_with_metrics(assessment_ids=[assessment_id], using=using) if r["status"] == "submitted"]
    return sorted(rows, key=lambda r: (r["rank"], r["attempt_id"]))
