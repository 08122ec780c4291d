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

_ATTEMPTS_WITH_METRICS_SQL = """
WITH scope AS (
    SELECT DISTINCT assessment_id FROM assessments_attempt WHERE {scope_filter}
),
board AS (
    SELECT a.id,
           RANK() OVER (PARTITION BY a.assessment_id
                        ORDER BY a.score DESC, (a.submitted_at - a.started_at) ASC) AS rank,
           (RANK() OVER (PARTITION BY a.assessment_id ORDER BY a.score ASC) - 1) * 100.0
               / COUNT(*) OVER (PARTITION BY a.assessment_id) AS percentile
    FROM assessments_attempt a
    WHERE a.status = 'submitted' AND a.assessment_id IN (SELECT assessment_id FROM scope)
)
SELECT a.id AS attempt_id, a.assessment_id, s.organisation_id, s.status AS assessment_status,
       a.candidate_id, COALESCE(NULLIF(u.display_name, ''), u.username) AS candidate_display_name,
       a.status, a.score, a.started_at, a.submitted_at,
       EXTRACT(EPOCH FROM (a.submitted_at - a.started_at))::float8 AS time_taken_seconds,
       b.rank, b.percentile::float8 AS percentile,
       CASE WHEN a.status = 'submitted' THEN a.score >= s.cut_off END AS qualified,
       (s.deleted_at IS NOT NULL) AS deleted,
       a.version + s.version + u.version AS doc_version
FROM assessments_attempt a
JOIN assessments_assessment s ON s.id = a.assessment_id
JOIN accounts_user u ON u.id = a.candidate_id
LEFT JOIN board b ON b.id = a.id
WHERE {row_filter}
ORDER BY a.id
"""


def _fetch_dicts(alias: str, sql: str, params: list) -> list[dict]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        columns = [col.name for col in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def attempts_with_metrics(*, attempt_ids: list[int] | None = None, assessment_ids: list[int] | None = None,
                          using: str = "default") -> list[dict]:
    """Attempts (any status) with derived metrics; ranks are computed over whole assessments.

    Projections read from the primary (`using="default"`): a projection must see the state the
    event was committed with, and the replica may lag behind it.
    """
    if (attempt_ids is None) == (assessment_ids is None):
        raise ValueError("pass exactly one of attempt_ids or assessment_ids")
    column, ids = ("id", attempt_ids) if attempt_ids is not None else ("assessment_id", assessment_ids)
    sql = _ATTEMPTS_WITH_METRICS_SQL.format(scope_filter=f"{column} = ANY(%s)", row_filter=f"a.{column} = ANY(%s)")
    return _fetch_dicts(using, sql, [list(ids), list(ids)])


def leaderboard(*, assessment_id: int, using: str = "default") -> list[dict]:
    """Submitted attempts of one assessment in rank order (rank, then attempt id)."""
    rows = [r for r in attempts_with_metrics(assessment_ids=[assessment_id], using=using) if r["status"] == "submitted"]
    return sorted(rows, key=lambda r: (r["rank"], r["attempt_id"]))
