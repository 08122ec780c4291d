"""Index names, settings and mappings: the one place that knows them.

Every index is reached through an alias (`<prefix><name>`); physical indexes are
`<alias>-<UTC timestamp>` so a rebuild can swap the alias atomically. Deleted rows stay in the
index as versioned tombstones (`deleted: true`), which every query filters out: a late, older
update can then never resurrect a deleted document, however long after `index.gc_deletes`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from shared.config import load_config

KEYWORD = {"type": "keyword"}
LONG = {"type": "long"}
DOUBLE = {"type": "double"}
DATE = {"type": "date"}
BOOLEAN = {"type": "boolean"}
INTEGER = {"type": "integer"}
TEXT_WITH_SORT = {"type": "text", "fields": {"sort": {"type": "keyword", "ignore_above": 256}}}
PERSON = {"properties": {"id": LONG, "display_name": KEYWORD}}
# md5 of the document as PostgreSQL rendered it (write_service/read_model/projections.py): verify compares it
# from doc values, without reading any source. Never searched.
CONTENT_HASH = {"type": "keyword", "index": False}


@dataclass(frozen=True)
class IndexDefinition:
    name: str
    properties: dict
    max_result_window: int = 10_000

    @property
    def alias(self) -> str:
        return f"{load_config().es_index_prefix}{self.name}"

    def new_physical_name(self) -> str:
        return f"{self.alias}-{datetime.now(timezone.utc).strftime('%Y%m%d%H%M%S%f')}"

    def mappings(self) -> dict:
        # strict: a field that is not declared here can never slip into a document (private data).
        return {"dynamic": "strict", "properties": {**self.properties, "deleted": BOOLEAN, "content_hash": CONTENT_HASH}}

    def settings(self, *, bulk_load: bool = False) -> dict:
        config = load_config()
        return {
            "number_of_shards": 1,
            "number_of_replicas": 0 if bulk_load else config.es_number_of_replicas,
            # Explicit, so idle shards never defer visibility (search_idle would otherwise delay
            # the first refresh after a quiet period); -1 while bulk loading a rebuild.
            "refresh_interval": "-1" if bulk_load else config.es_refresh_interval,
            "max_result_window": self.max_result_window,
        }


ASSESSMENTS = IndexDefinition(
    name="assessments",
    properties={
        "id": LONG, "organisation": LONG, "title": TEXT_WITH_SORT, "description": {"type": "text"},
        "tags": KEYWORD, "difficulty": KEYWORD, "status": KEYWORD, "cut_off": DOUBLE, "max_score": DOUBLE,
        "duration_minutes": INTEGER, "attempts_count": LONG, "submitted_count": LONG,
        "created_at": DATE, "updated_at": DATE,
    },
)

# Facts of the attempt row only: rank, percentile and qualified are computed by the search API at
# read time, so a submission or a cut-off change rewrites no other attempt's document.
ATTEMPTS = IndexDefinition(
    name="attempts",
    properties={
        "attempt_id": LONG, "assessment": LONG, "organisation": LONG, "candidate": PERSON, "status": KEYWORD,
        "score": DOUBLE, "time_taken_seconds": DOUBLE, "started_at": DATE, "submitted_at": DATE,
    },
    # The search API reads the k-th attempt of a leaderboard by sorted `from` to turn rank/percentile filters into key thresholds (from < leaderboard size); the public API never exposes from/offset (cursors use search_after).
    max_result_window=10_000_000,
)

POSTS = IndexDefinition(
    name="posts",
    properties={
        "id": LONG, "organisation": LONG, "title": TEXT_WITH_SORT, "body": {"type": "text"}, "tags": KEYWORD,
        "assessment": LONG, "author": PERSON, "comments_count": LONG, "created_at": DATE,
        "last_activity_at": DATE,
    },
)

ALL_INDEXES: dict[str, IndexDefinition] = {d.name: d for d in (ASSESSMENTS, ATTEMPTS, POSTS)}
