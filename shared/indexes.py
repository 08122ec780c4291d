"""Index names, settings and mappings: the one place that knows them.

Every index is reached through an alias (`<prefix><name>`); physical indexes are
`<alias>-<UTC timestamp>` so a rebuild can swap the alias atomically. Deleted rows stay in the
index as versioned tombstones (`deleted: true`), which every query filters out: a late, older
update can then never resurrect a deleted document, however long after `index.gc_deletes`.

Text (titles, descriptions, post titles and bodies, comment bodies) is analysed for English: the main field
stemmed (`graphs` and `graph` are one word), its `exact` subfield only lower-cased and
accent-folded, so an exact word can be ranked above a stemmed one. Analysis settings cannot be
added to an existing index: a definition whose `revision` (in the mapping's `_meta`) differs from
the live index's needs a new physical index (`manage.py reindex`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.config import load_config

KEYWORD = {"type": "keyword"}
LONG = {"type": "long"}
DOUBLE = {"type": "double"}
DATE = {"type": "date"}
BOOLEAN = {"type": "boolean"}
INTEGER = {"type": "integer"}
# Component names are those of Elasticsearch's analysis-common module, so the same settings work on
# the official image (compose/) and on the stack's node (stack/elasticsearch/CqrsAnalysisPlugin.java
# registers them there); `standard`, `lowercase` and `stop` are the server's own.
TEXT_ANALYSIS = {
    "filter": {
        "english_possessive": {"type": "stemmer", "language": "possessive_english"},
        "english_stop": {"type": "stop", "stopwords": "_english_"},
        "english_stemmer": {"type": "stemmer", "language": "english"},  # Porter
    },
    "analyzer": {
        # The order of Elasticsearch's `english` analyzer, plus folding (café = cafe).
        "english_text": {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["english_possessive", "lowercase", "asciifolding", "english_stop", "english_stemmer"],
        },
        # Words as written, case and accents aside: for exact matches (ranked first) and prefixes.
        "folded_text": {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]},
    },
}
ENGLISH_TEXT = {
    "type": "text",
    "analyzer": "english_text",
    "fields": {"exact": {"type": "text", "analyzer": "folded_text"}},
}
TEXT_WITH_SORT = {
    **ENGLISH_TEXT,
    "fields": {**ENGLISH_TEXT["fields"], "sort": {"type": "keyword", "ignore_above": 256}},
}
PERSON = {"properties": {"id": LONG, "display_name": KEYWORD}}
# md5 of the document as PostgreSQL rendered it (write_service/read_model/projections.py): verify compares it
# from doc values, without reading any source. Never searched.
CONTENT_HASH = {"type": "keyword", "index": False}


@functools.lru_cache(maxsize=16)
def _index_prefix(_app_env: str | None, _configured: str | None) -> str:
    """The index prefix for these two variables (the only ones it depends on): resolving the whole
    config on every alias lookup cost the search API ~90 environment reads per request."""
    return load_config().es_index_prefix


@dataclass(frozen=True)
class IndexDefinition:
    name: str
    properties: dict
    max_result_window: int = 10_000
    analysis: dict = field(default_factory=dict)  # index.analysis: static, set at creation only
    # index.sort as (field, order) pairs: static too. Every segment then holds its documents in
    # this order, so a top-N in it stops early and one in a correlated order skips most documents,
    # whatever the segments' layout or the caches' state.
    sort: tuple[tuple[str, str], ...] = ()

    @property
    def alias(self) -> str:
        return f"{_index_prefix(os.environ.get('APP_ENV'), os.environ.get('ES_INDEX_PREFIX'))}{self.name}"

    def new_physical_name(self) -> str:
        return f"{self.alias}-{datetime.now(UTC).strftime('%Y%m%d%H%M%S%f')}"

    @property
    def revision(self) -> str:
        """Fingerprint of the analysis and field mappings: a live index with another one may need a
        new physical index (put_mapping can add a field, never change an analyzer)."""
        canonical = json.dumps([self.analysis, self.properties], sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def mappings(self) -> dict:
        # strict: a field that is not declared here can never slip into a document (private data).
        return {
            "dynamic": "strict",
            "_meta": {"revision": self.revision},
            "properties": {**self.properties, "deleted": BOOLEAN, "content_hash": CONTENT_HASH},
        }

    def settings(self, *, bulk_load: bool = False) -> dict:
        config = load_config()
        return {
            "number_of_shards": 1,
            "number_of_replicas": 0 if bulk_load else config.es_number_of_replicas,
            # Explicit, so idle shards never defer visibility (search_idle would otherwise delay
            # the first refresh after a quiet period); -1 while bulk loading a rebuild.
            "refresh_interval": "-1" if bulk_load else config.es_refresh_interval,
            "max_result_window": self.max_result_window,
            **({"analysis": self.analysis} if self.analysis else {}),
            **({"sort": {"field": [f for f, _ in self.sort], "order": [o for _, o in self.sort]}} if self.sort else {}),
        }


ASSESSMENTS = IndexDefinition(
    name="assessments",
    properties={
        "id": LONG,
        "organisation": LONG,
        "title": TEXT_WITH_SORT,
        "description": ENGLISH_TEXT,
        "tags": KEYWORD,
        "difficulty": KEYWORD,
        "status": KEYWORD,
        "cut_off": DOUBLE,
        "max_score": DOUBLE,
        "duration_minutes": INTEGER,
        "attempts_count": LONG,
        "submitted_count": LONG,
        "created_at": DATE,
        "updated_at": DATE,
    },
    analysis=TEXT_ANALYSIS,
)

# Facts of the attempt row only: rank, percentile and qualified are computed by the search API at
# read time, so a submission or a cut-off change rewrites no other attempt's document.
ATTEMPTS = IndexDefinition(
    name="attempts",
    properties={
        "attempt_id": LONG,
        "assessment": LONG,
        "organisation": LONG,
        "candidate": PERSON,
        "status": KEYWORD,
        "score": DOUBLE,
        "time_taken_seconds": DOUBLE,
        "started_at": DATE,
        "submitted_at": DATE,
    },
    # The search API reads the k-th attempt of a leaderboard by sorted `from` to turn rank/percentile
    # filters into key thresholds (from < leaderboard size); the public API never exposes
    # from/offset (cursors use search_after).
    max_result_window=10_000_000,
    # Newest first is the attempts list's default (-started_at): it stops after the page and the
    # count bound; -submitted_at, which follows started_at closely, skips nearly every older
    # document. Unsorted, a freshly seeded index walked every match (394,629: bench/README.md).
    sort=(("started_at", "desc"), ("attempt_id", "asc")),
)

POSTS = IndexDefinition(
    name="posts",
    properties={
        "id": LONG,
        "organisation": LONG,
        "title": TEXT_WITH_SORT,
        "body": ENGLISH_TEXT,
        "tags": KEYWORD,
        "assessment": LONG,
        "author": PERSON,
        "comments_count": LONG,
        "created_at": DATE,
        "last_activity_at": DATE,
    },
    analysis=TEXT_ANALYSIS,
)

# Comments are unbounded per post, hence their own index rather than an array in the post's
# document. `organisation` is the post's (a post never changes organisation); whether the post
# itself is still visible is checked when read (search_api/selectors.py `comments_scope`).
COMMENTS = IndexDefinition(
    name="comments",
    properties={
        "id": LONG,
        "post": LONG,
        "organisation": LONG,
        "author": PERSON,
        "body": ENGLISH_TEXT,
        "created_at": DATE,
    },
    analysis=TEXT_ANALYSIS,
)

ALL_INDEXES: dict[str, IndexDefinition] = {d.name: d for d in (ASSESSMENTS, ATTEMPTS, POSTS, COMMENTS)}
