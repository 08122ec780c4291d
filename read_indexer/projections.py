"""One declarative projection per index: which rows, read how, shaped into which document.

Each projection reads current state from the primary in one statement (one snapshot), with
derived metrics computed by PostgreSQL, and returns (id, version, document). `version` is the sum
of the versions of every row the document derives from; deleted rows become tombstones.
See ../shared/DESIGN.md ("Nothing stale wins", "Deleted stays deleted").
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connections

from shared.indexes import ASSESSMENTS, ATTEMPTS, POSTS, IndexDefinition
from write_service.assessments.selectors import attempts_with_metrics


@dataclass(frozen=True)
class ProjectedDocument:
    id: int
    version: int
    source: dict
    routing_keys: dict  # fields kept on tombstones (tenant, parent) so they stay filterable


@dataclass(frozen=True)
class Groups:
    """Whole-table walks (rebuilds, verify) go through parent rows instead of the table's own ids.

    An attempt's rank and percentile come from a window over all attempts of its assessment: a
    page of attempt ids spanning N assessments windows all N whole, so walking by attempt id costs
    (pages x attempts) and grows quadratically with the table. Walking by assessment windows each
    assessment exactly once.
    """
    table: str            # the parent table, walked by keyset on its id
    child_column: str     # the column of the projection's table naming the parent
    size_column: str      # the parent's (denormalised, approximate) child count: only sizes pages
    fetch: Callable[[list[int], str], list[ProjectedDocument]]  # every document under these parents
    key_name: str         # what operators read in "after <key_name> N"


@dataclass(frozen=True)
class Projection:
    index: IndexDefinition
    table: str
    fetch: Callable[[list[int], str], list[ProjectedDocument]]
    groups: Groups | None = None

    def project(self, ids: Iterable[int], using: str = "default") -> list[ProjectedDocument]:
        ids = sorted(set(ids))
        return self.fetch(ids, using) if ids else []

    def walk_pages(self, *, after_key: int, batch_size: int, using: str = "default") -> Iterator[list[int]]:
        """Keys of the whole table, in pages of about `batch_size` documents, in key order.

        Keys are row ids, or parent ids when the projection has `groups` (a page then holds whole
        parents, up to `batch_size` documents, or one parent alone however large). Keyset pagination: no OFFSET, no server-side cursor
        (pgBouncer-safe). Read `project_page` for the documents of a page.
        """
        if self.groups is None:
            while ids := _keyset(using, f"SELECT id FROM {self.table} WHERE id > %s ORDER BY id LIMIT %s",
                                 after_key, batch_size):
                yield [row[0] for row in ids]
                after_key = ids[-1][0]
            return
        page, page_size = [], 0
        sql = f"SELECT id, {self.groups.size_column} FROM {self.groups.table} WHERE id > %s ORDER BY id LIMIT %s"
        while parents := _keyset(using, sql, after_key, 1000):
            for parent_id, size in parents:
                size = max(1, size or 0)
                if page and page_size + size > batch_size:
                    yield page
                    page, page_size = [], 0
                page.append(parent_id)
                page_size += size
            after_key = parents[-1][0]
        if page:
            yield page

    @property
    def walk_key_name(self) -> str:
        return self.groups.key_name if self.groups else "id"

    def project_page(self, keys: list[int], using: str = "default") -> list[ProjectedDocument]:
        if self.groups is None:
            return self.project(keys, using)
        return self.groups.fetch(sorted(set(keys)), using) if keys else []

    def count_rows(self, *, after_key: int = 0, using: str = "default") -> int:
        """Rows a walk after `after_key` visits (the progress bars' totals)."""
        column = self.groups.child_column if self.groups else "id"
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {self.table} WHERE {column} > %s", [after_key])
            return cursor.fetchone()[0]


def _keyset(using: str, sql: str, after_key: int, limit: int) -> list[tuple]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, [after_key, limit])
        return cursor.fetchall()


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


def attempt_document(row: dict) -> ProjectedDocument:
    row = {**row, "id": row["attempt_id"]}
    return _document(row, {
        "attempt_id": row["attempt_id"], "assessment": row["assessment_id"], "organisation": row["organisation_id"],
        "assessment_status": row["assessment_status"],
        "candidate": {"id": row["candidate_id"], "display_name": row["candidate_display_name"]},
        "status": row["status"], "score": _num(row["score"]), "time_taken_seconds": row["time_taken_seconds"],
        "started_at": _iso(row["started_at"]), "submitted_at": _iso(row["submitted_at"]),
        "rank": row["rank"], "percentile": row["percentile"], "qualified": row["qualified"],
    }, {"attempt_id": row["attempt_id"], "assessment": row["assessment_id"], "organisation": row["organisation_id"]})


def _fetch_attempts(ids: list[int], using: str) -> list[ProjectedDocument]:
    return [attempt_document(row) for row in attempts_with_metrics(attempt_ids=ids, using=using)]


def project_assessment_attempts(assessment_id: int, using: str = "default") -> list[ProjectedDocument]:
    """Fan-out: every attempt of one assessment, ranks and percentiles from one window query."""
    return _fetch_attempts_of_assessments([assessment_id], using)


def _fetch_attempts_of_assessments(assessment_ids: list[int], using: str) -> list[ProjectedDocument]:
    return [attempt_document(row) for row in attempts_with_metrics(assessment_ids=assessment_ids, using=using)]


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
    "assessments": Projection(ASSESSMENTS, "assessments_assessment", _fetch_assessments),
    "attempts": Projection(ATTEMPTS, "assessments_attempt", _fetch_attempts, groups=Groups(
        table="assessments_assessment", child_column="assessment_id", size_column="attempts_count",
        fetch=_fetch_attempts_of_assessments, key_name="assessment id")),
    "posts": Projection(POSTS, "discussions_post", _fetch_posts),
}
