"""One declarative projection per index: which rows, read how, shaped into which document.

Each projection reads current state from the primary in one statement (one snapshot): a row
joined with the rows it shows (never a count or window over its siblings), and returns (id,
version, document bytes rendered by PostgreSQL, with their content hash). `version` is the sum
of the versions of every row the document derives from; deleted rows become tombstones,
soft-deleted ones at their version, hard-deleted ones (a `DELETE` by psql or a queryset) at
HARD_DELETED_VERSION, above any version the row ever had: ids are never reused, so nothing can
come after it.
See docs/ARCHITECTURE.md ("Nothing stale wins", "Deleted stays deleted").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import orjson
from django.db import connections

from shared.events import RowChange
from shared.indexes import ASSESSMENTS, ATTEMPTS, COMMENTS, POSTS, IndexDefinition
from write_service.accounts.models import User
from write_service.assessments.models import Assessment, Attempt
from write_service.discussions.models import Comment, Post

ASSESSMENT_TABLE, ATTEMPT_TABLE = Assessment._meta.db_table, Attempt._meta.db_table
POST_TABLE, USER_TABLE = Post._meta.db_table, User._meta.db_table
COMMENT_TABLE = Comment._meta.db_table


@dataclass(frozen=True)
class ProjectedDocument:
    id: int
    version: int
    body: bytes  # the document's JSON as PostgreSQL rendered it, `content_hash` included

    @property
    def source(self) -> dict:
        return orjson.loads(self.body)


HARD_DELETED_VERSION = 2**62
# md5 of the document's canonical jsonb text (keys in jsonb order), before content_hash is added:
# the same expression for the document written and for verify's comparison.
_CONTENT_HASH = "md5(d.doc::text)"


@dataclass(frozen=True)
class Projection:
    """A document's shape, declared once in SQL: the live path, reindex and verify all run it.

    `sources` names the row `r` and the rows it shows; `live` and `tombstone` are jsonb
    expressions of the document; `version` sums the versions of every row it derives from.
    PostgreSQL renders the JSON and its hash, and the bytes go to Elasticsearch untouched.
    """

    index: IndexDefinition
    table: str
    id_field: str  # the document field holding the row id (kept on tombstones)
    sources: str
    version: str
    deleted: str
    live: str
    tombstone: str

    _body = f"(d.doc || jsonb_build_object('content_hash', {_CONTENT_HASH}))::text"

    def _select(self, columns: str, where: str) -> str:
        return (
            f"SELECT r.id, {self.version} AS doc_version, {columns} FROM {self.sources} "
            f"CROSS JOIN LATERAL (SELECT CASE WHEN {self.deleted} THEN {self.tombstone} ELSE {self.live} END AS doc) d "
            f"WHERE {where}"
        )

    def all_documents_sql(self) -> str:
        """Every row's (id, version, document) in id order, in one statement: the query of a loader
        that scans the table once (the bench's raw rebuild baseline)."""
        return self._select(self._body, "TRUE") + " ORDER BY r.id"

    def project(self, ids: Iterable[int], using: str = "default") -> list[ProjectedDocument]:
        """Documents of these rows; a row that does not exist was deleted for good. Only a read of
        the primary may say that (a replica's missing row may just not have arrived yet)."""
        ids = sorted(set(ids))
        if not ids:
            return []
        with connections[using].cursor() as cursor:
            cursor.execute(self._select(self._body, "r.id = ANY(%s)"), [ids])
            documents = [
                ProjectedDocument(row_id, version, text.encode()) for row_id, version, text in cursor.fetchall()
            ]
        found = {doc.id for doc in documents}
        return documents + [
            ProjectedDocument(row_id, HARD_DELETED_VERSION, orjson.dumps({self.id_field: row_id, "deleted": True}))
            for row_id in ids
            if row_id not in found
        ]

    def project_range(self, first: int, last: int, using: str = "default") -> list[ProjectedDocument]:
        """Documents of the rows with first <= id <= last, one range scan (a rebuild's page): a row
        missing from it is left to the live path, which saw its deletion."""
        with connections[using].cursor() as cursor:
            cursor.execute(self._select(self._body, "r.id BETWEEN %s AND %s"), [first, last])
            return [ProjectedDocument(row_id, version, text.encode()) for row_id, version, text in cursor.fetchall()]

    def hashes(self, *, after_key: int, limit: int, using: str = "default") -> list[tuple[int, int, str]]:
        """(id, version, content hash) of the next `limit` rows after `after_key`, in id order:
        what verify compares, without shipping a document."""
        with connections[using].cursor() as cursor:
            cursor.execute(self._select(_CONTENT_HASH, "r.id > %s ORDER BY r.id LIMIT %s"), [after_key, limit])
            return cursor.fetchall()

    def walk_pages(self, *, after_key: int, batch_size: int, using: str = "default") -> Iterator[list[int]]:
        """Row ids of the whole table, in pages of `batch_size`, in id order (`project` turns a page
        into documents). Keyset pagination: no OFFSET, no server-side cursor (pgBouncer-safe)."""
        while ids := _ids(
            using, f"SELECT id FROM {self.table} WHERE id > %s ORDER BY id LIMIT %s", [after_key, batch_size]
        ):
            yield ids
            after_key = ids[-1]

    def existing_ids(self, ids: list[int], using: str = "default") -> set[int]:
        """The given ids whose row still exists (a missing one was deleted for good)."""
        return set(_ids(using, f"SELECT id FROM {self.table} WHERE id = ANY(%s)", [ids])) if ids else set()

    def count_rows(self, *, after_key: int = 0, using: str = "default") -> int:
        """Rows a walk after `after_key` visits (the progress bars' totals)."""
        with connections[using].cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {self.table} WHERE id > %s", [after_key])
            return cursor.fetchone()[0]


def _ids(using: str, sql: str, params: list) -> list[int]:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def child_pages(table: str, column: str, value: int, *, page_size: int, using: str = "default") -> Iterator[list[int]]:
    """Ids of the rows of `table` whose `column` is `value` (an assessment's attempts, a user's
    posts), in keyset pages. Table and column come from model metadata, never from input."""
    sql, after = f"SELECT id FROM {table} WHERE {column} = %s AND id > %s ORDER BY id LIMIT %s", 0
    while ids := _ids(using, sql, [value, after, page_size]):
        yield ids
        after = ids[-1]


_DISPLAY_NAME = "COALESCE(NULLIF(u.display_name, ''), u.username)"

# Numbers as float8 (as the index maps them) and timestamps as PostgreSQL's ISO 8601 in the
# session's UTC; a deleted row keeps the fields that place it (tenant, parent) so tombstones stay
# filterable. Rank, percentile and qualified are not here: the search API computes them at read
# time, so one submission writes one attempt document, whatever the size of its leaderboard.
PROJECTIONS: dict[str, Projection] = {
    "assessments": Projection(
        ASSESSMENTS,
        ASSESSMENT_TABLE,
        "id",
        sources=f"{ASSESSMENT_TABLE} r",
        version="r.version",
        deleted="r.deleted_at IS NOT NULL",
        live="""jsonb_build_object(
            'id', r.id, 'organisation', r.organisation_id, 'title', r.title, 'description', r.description,
            'tags', r.tags, 'difficulty', r.difficulty, 'status', r.status, 'cut_off', r.cut_off::float8,
            'max_score', r.max_score::float8, 'duration_minutes', r.duration_minutes,
            'attempts_count', r.attempts_count, 'submitted_count', r.submitted_count,
            'created_at', r.created_at, 'updated_at', r.updated_at, 'deleted', false)""",
        tombstone="jsonb_build_object('id', r.id, 'organisation', r.organisation_id, 'deleted', true)",
    ),
    "attempts": Projection(
        ATTEMPTS,
        ATTEMPT_TABLE,
        "attempt_id",
        sources=f"{ATTEMPT_TABLE} r JOIN {ASSESSMENT_TABLE} s ON s.id = r.assessment_id "
        f"JOIN {USER_TABLE} u ON u.id = r.candidate_id",
        version="r.version + s.version + u.version",
        deleted="s.deleted_at IS NOT NULL",
        live=f"""jsonb_build_object(
            'attempt_id', r.id, 'assessment', r.assessment_id, 'organisation', s.organisation_id,
            'candidate', jsonb_build_object('id', r.candidate_id, 'display_name', {_DISPLAY_NAME}),
            'status', r.status, 'score', r.score::float8,
            'time_taken_seconds', EXTRACT(EPOCH FROM (r.submitted_at - r.started_at))::float8,
            'started_at', r.started_at, 'submitted_at', r.submitted_at, 'deleted', false)""",
        tombstone="jsonb_build_object('attempt_id', r.id, 'assessment', r.assessment_id, "
        "'organisation', s.organisation_id, 'deleted', true)",
    ),
    "posts": Projection(
        POSTS,
        POST_TABLE,
        "id",
        sources=f"{POST_TABLE} r JOIN {USER_TABLE} u ON u.id = r.author_id",
        version="r.version + u.version",
        deleted="r.deleted_at IS NOT NULL",
        live=f"""jsonb_build_object(
            'id', r.id, 'organisation', r.organisation_id, 'title', r.title, 'body', r.body, 'tags', r.tags,
            'assessment', r.assessment_id,
            'author', jsonb_build_object('id', r.author_id, 'display_name', {_DISPLAY_NAME}),
            'comments_count', r.comments_count, 'created_at', r.created_at, 'last_activity_at', r.last_activity_at,
            'deleted', false)""",
        tombstone="jsonb_build_object('id', r.id, 'organisation', r.organisation_id, 'deleted', true)",
    ),
    # The post lends only its organisation, which never changes, so its version is not summed: a
    # post's counter updates would otherwise make every comment document look stale to verify.
    # A deleted post hides its comments when read (the list checks the post), with no fan-out.
    "comments": Projection(
        COMMENTS,
        COMMENT_TABLE,
        "id",
        sources=f"{COMMENT_TABLE} r JOIN {POST_TABLE} p ON p.id = r.post_id JOIN {USER_TABLE} u ON u.id = r.author_id",
        version="r.version + u.version",
        deleted="r.deleted_at IS NOT NULL",
        live=f"""jsonb_build_object(
            'id', r.id, 'post', r.post_id, 'organisation', p.organisation_id,
            'author', jsonb_build_object('id', r.author_id, 'display_name', {_DISPLAY_NAME}),
            'body', r.body, 'created_at', r.created_at, 'deleted', false)""",
        tombstone=(
            "jsonb_build_object('id', r.id, 'post', r.post_id, 'organisation', p.organisation_id, 'deleted', true)"
        ),
    ),
}

# Tables whose rows are documents of their own; every other captured table (users) reaches
# documents through a fan-out. A comment is both a document and counted: the counters batch's
# update of its post re-projects the post.
INDEX_OF_TABLE = {projection.table: name for name, projection in PROJECTIONS.items()}


def documents_reached(change: RowChange, *, page_size: int) -> Iterator[tuple[str, list[int]]]:
    """(index, page of row ids) of every child document a fan-out change's row shows in (the row's
    own document, if it has one, is written by the indexing path at once)."""
    if change.table == ASSESSMENT_TABLE:
        for ids in child_pages(ATTEMPT_TABLE, "assessment_id", change.id, page_size=page_size):
            yield "attempts", ids
    elif change.table == USER_TABLE:
        for ids in child_pages(ATTEMPT_TABLE, "candidate_id", change.id, page_size=page_size):
            yield "attempts", ids
        for ids in child_pages(POST_TABLE, "author_id", change.id, page_size=page_size):
            yield "posts", ids
        for ids in child_pages(COMMENT_TABLE, "author_id", change.id, page_size=page_size):
            yield "comments", ids
