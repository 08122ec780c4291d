"""The reference leaderboard: derived metrics computed by PostgreSQL window functions.

Nothing on the indexing path uses this (attempt documents hold facts of their own row; the search
API computes rank, percentile and qualified at read time); tests compare both with it.
Definitions (also in docs/SEARCH_API.md):
- time_taken_seconds = submitted_at - started_at.
- rank: RANK() by score desc, then time taken asc, among submitted attempts of the assessment;
  equal score and equal time share a rank.
- percentile: the share of the assessment's submitted attempts with a strictly lower score, in
  percent (0 for the lowest score, < 100 always): (RANK() by score asc - 1) * 100 / COUNT(*),
  in float8, so it is bit-identical to Python's `c * 100 / n`.
- qualified: score >= the assessment's *current* cut_off.
"""

from __future__ import annotations

from django.db import connections

_ATTEMPTS_WITH_METRICS_SQL = """
WITH board AS (
    SELECT a.id,
           RANK() OVER (PARTITION BY a.assessment_id
                        ORDER BY a.score DESC, (a.submitted_at - a.started_at) ASC) AS rank,
           ((RANK() OVER (PARTITION BY a.assessment_id ORDER BY a.score ASC) - 1) * 100)::float8
               / COUNT(*) OVER (PARTITION BY a.assessment_id) AS percentile
    FROM assessments_attempt a
    WHERE a.status = 'submitted' AND a.assessment_id = ANY(%s)
)
SELECT a.id AS attempt_id, a.assessment_id, s.organisation_id,
       a.candidate_id, COALESCE(NULLIF(u.display_name, ''), u.username) AS candidate_display_name,
       a.status, a.score, a.started_at, a.submitted_at,
       EXTRACT(EPOCH FROM (a.submitted_at - a.started_at))::float8 AS time_taken_seconds,
       b.rank, b.percentile,
       CASE WHEN a.status = 'submitted' THEN a.score >= s.cut_off END AS qualified
FROM assessments_attempt a
JOIN assessments_assessment s ON s.id = a.assessment_id
JOIN accounts_user u ON u.id = a.candidate_id
LEFT JOIN board b ON b.id = a.id
WHERE a.assessment_id = ANY(%s)
ORDER BY a.id
"""


def attempts_with_metrics(*, assessment_ids: list[int], using: str = "default") -> list[dict]:
    """Every attempt (any status) of these assessments, with derived metrics (None unless submitted)."""
    with connections[using].cursor() as cursor:
        cursor.execute(_ATTEMPTS_WITH_METRICS_SQL, [list(assessment_ids), list(assessment_ids)])
        columns = [col.name for col in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def leaderboard(*, assessment_id: int, using: str = "default") -> list[dict]:
    """Submitted attempts of one assessment in rank order (rank, then attempt id)."""
    rows = [r for r in attempts_with_metrics(assessment_ids=[assessment_id], using=using) if r["status"] == "submitted"]
    return sorted(rows, key=lambda r: (r["rank"], r["attempt_id"]))
