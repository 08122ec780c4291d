"""One declarative projection per index: which rows, read how, shaped into which document.

Each projection reads current state from the primary in one statement (one snapshot): a row
joined with the rows it shows (never a count or window over its siblings), and returns (id,
version, document). `version` is the sum of the versions of every row the document derives from;
deleted rows become tombstones, soft-deleted ones at their version, hard-deleted ones (a
`DELETE` by psql or a queryset) at HARD_DELETED_VERSION, above any version the row ever had: ids
are never reused, so nothing can come after it.
See docs/ARCHITECTURE.md ("Nothing stale wins", "Deleted stays deleted").
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connections

from shared.indexes import ASSESSMENTS, ATTEMPTS, POSTS, IndexDefinition


@dataclass(frozen=True)
class ProjectedDocument:
    id: int
    version: int
    source: dict
    routing_keys: dict  # fields kept on tombstones (tenant, parent) so they stay filterable


HARD_DELETED_VERSION = 2**62


@dataclass(frozen=True)
class Projection:
    index: IndexDefinition
    table: str
    id_field: str  # the document field holding the row id (kept on tombstones)
    fetch: Callable[[list[int], str], list[ProjectedDocument]]

    def project(self, ids: Iterable[int], using: str = "default") -> list[ProjectedDocument]:
        """Documents of these rows; a row that does not exist was deleted for good. Only a read of
        the primary may say that (a replica's missing row may just not have arrived yet)."""
        ids = sorted(set(ids))
        documents = self.fetch(ids, using) if ids else []
        found = {doc.id for doc in documents}
        return documents + [
            ProjectedDocument(row_id, HARD_DELETED_VERSION, {self.id_field: row_id, "deleted": True}, {self.id_field: row_id})
            for row_id in ids if row_id not in found
        ]

    def walk_pages(self, *, after_key: int, batch_size: int, using: str = "default") -> Iterator[list[int]]:
        """Row ids of the whole table, in pages of `batch_size`, in id order (`project` turns a page
        into documents). Keyset pagination: no OFFSET, no server-side cursor (pgBouncer-safe)."""
        while ids := _ids(using, f"SELECT id FROM {self.table} WHERE id > %s ORDER BY id LIMIT %s", [after_key, batch_size]):
            yield ids
            after_key = ids[-1]

    def count_rows(self, *, after_key: int = 0, using: str = "default") -> int:
        """Rows a walk after `after_key` visits (the progress bars' totals)."""
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {self.table} WHERE id > %s", [after_key])
            return cursor.fetchone()[0]


def _ids(using: str, sql: str, params: list) -> list[int]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def _num(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rows(using: str, sql: str, ids: list[int]) -> list[dict]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [ids])
        columns = [col.name for col in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]


def _document(row: dict, source: dict, routing_keys: dict) -> ProjectedDocument:
    if row["deleted"]:
        return ProjectedDocument(row["id"], row["doc_version"], {**routing_keys, "deleted": True}, routing_keys)
    return ProjectedDocument(row["id"], row["doc_version"], {**source, "deleted": False}, routing_keys)


_ASSESSMENT_SQL = """
SELECT s.*, (s.deleted_at IS NOT NULL) AS deleted, s.version AS doc_version
FROM assessments_assessment s WHERE s.id = ANY(%s)
"""


def _fetch_assessments(ids: list[int], using: str) -> list[ProjectedDocument]:
    return [
        _document(row, {
            "id": row["id"], "organisation": row["organisation_id"], "title": row["title"],
            "description": row["description"], "tags": row["tags"], "difficulty": row["difficulty"],
            "status": row["status"], "cut_off": _num(row["cut_off"]), "max_score": _num(row["max_score"]),
            "duration_minutes": row["duration_minutes"], "attempts_count": row["attempts_count"],
            "submitted_count": row["submitted_count"], "created_at": _iso(row["created_at"]),
            "updated_at": _iso(row["updated_at"]),
        }, {"id": row["id"], "organisation": row["organisation_id"]})
        for row in _rows(using, _ASSESSMENT_SQL, ids)
    ]


# Facts of the attempt's own row, joined with its assessment (organisation, deletion) and its
# candidate (display name). Rank, percentile and qualified are computed by the search API at read
# time, so one submission writes one attempt document, whatever the size of its leaderboard.
_ATTEMPT_SQL = """
SELECT a.id, a.assessment_id, s.organisation_id, a.candidate_id,
       COALESCE(NULLIF(u.display_name, ''), u.username) AS candidate_display_name,
       a.status, a.score, a.started_at, a.submitted_at,
       EXTRACT(EPOCH FROM (a.submitted_at - a.started_at))::float8 AS time_taken_seconds,
       (s.deleted_at IS NOT NULL) AS deleted, a.version + s.version + u.version AS doc_version
FROM assessments_attempt a
JOIN assessments_assessment s ON s.id = a.assessment_id
JOIN accounts_user u ON u.id = a.candidate_id
WHERE a.id = ANY(%s)
"""


def _fetch_attempts(ids: list[int], using: str) -> list[ProjectedDocument]:
    return [
        _document(row, {
            "attempt_id": row["id"], "assessment": row["assessment_id"], "organisation": row["organisation_id"],
            "candidate": {"id": row["candidate_id"], "display_name": row["candidate_display_name"]},
            "status": row["status"], "score": _num(row["score"]), "time_taken_seconds": row["time_taken_seconds"],
            "started_at": _iso(row["started_at"]), "submitted_at": _iso(row["submitted_at"]),
        }, {"attempt_id": row["id"], "assessment": row["assessment_id"], "organisation": row["organisation_id"]})
        for row in _rows(using, _ATTEMPT_SQL, ids)
    ]


def child_pages(table: str, column: str, value: int, *, page_size: int, using: str = "default") -> Iterator[list[int]]:
    """Ids of the rows of `table` whose `column` is `value` (an assessment's attempts, a user's
    posts), in keyset pages. Table and column come from model metadata, never from input."""
    sql, after = f"SELECT id FROM {table} WHERE {column} = %s AND id > %s ORDER BY id LIMIT %s", 0
    while ids := _ids(using, sql, [value, after, page_size]):
        yield ids
        after = ids[-1]


_POST_SQL = """
SELECT p.*, COALESCE(NULLIF(u.display_name, ''), u.username) AS author_display_name,
       (p.deleted_at IS NOT NULL) AS deleted, p.version + u.version AS doc_version
FROM discussions_post p JOIN accounts_user u ON u.id = p.author_id
WHERE p.id = ANY(%s)
"""


def _fetch_posts(ids: list[int], using: str) -> list[ProjectedDocument]:
    return [
        _document(row, {
            "id": row["id"], "organisation": row["organisation_id"], "title": row["title"], "body": row["body"],
            "tags": row["tags"], "assessment": row["assessment_id"],
            "author": {"id": row["author_id"], "display_name": row["author_display_name"]},
            "comments_count": row["comments_count"], "created_at": _iso(row["created_at"]),
            "last_activity_at": _iso(row["last_activity_at"]),
        }, {"id": row["id"], "organisation": row["organisation_id"]})
        for row in _rows(using, _POST_SQL, ids)
    ]


PROJECTIONS: dict[str, Projection] = {
    "assessments": Projection(ASSESSMENTS, "assessments_assessment", "id", _fetch_assessments),
    "attempts": Projection(ATTEMPTS, "assessments_attempt", "attempt_id", _fetch_attempts),
    "posts": Projection(POSTS, "discussions_post", "id", _fetch_posts),
}
