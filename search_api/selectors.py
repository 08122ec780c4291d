"""Runs one list request against Elasticsearch and shapes the page: the read use-case.

One round trip for the page: a plain search, or one msearch that also checks, for a list nested
under a parent (the leaderboard under its assessment, the comments under their post), that the
parent is visible, so an invisible or missing parent is a 404 instead of an empty list that
would confirm it exists, and runs, when q could match more with typos, its typo-tolerant form
beside its exact form (the exact form answers unless it finds fewer than SEARCH_TYPO_THRESHOLD).
Attempt lists add the requests of their derived metrics (rank, percentile, qualified): one
after the page for its rows, and up to three before it when a filter or facet needs thresholds.
Title suggestions (suggest.py) are one plain search. A plain q also needs its index's synonyms:
one read per index and process per SEARCH_SYNONYMS_TTL_SECONDS (synonym_cache.py), none per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from django.conf import settings

from search_api import derived_metrics, pagination, suggest, visibility
from search_api.auth import Principal
from search_api.errors import BadRequest, NotFound, SearchUnavailable
from search_api.es_node import search_es_client
from search_api.filtering import Condition, InvalidValue, ListQuery, ListSchema, parse_params
from search_api.query_builder import (
    EMPTY_SYNONYMS,
    FACET_VALUES,
    base_filters,
    build_search,
    exists_query,
    facet_conditions,
    has_operator,
    row_highlights,
    sort_clauses,
    widens_with_typos,
)
from search_api.synonym_cache import SynonymCache
from shared import request_timing as timing
from shared import synonyms
from shared.indexes import ASSESSMENTS, ATTEMPTS, POSTS, IndexDefinition

log = structlog.get_logger(__name__)

_HIT_PATHS = (
    "took",
    "hits.total",
    "hits.hits._source",
    "hits.hits.sort",
    "hits.hits.highlight",
    *(
        f"aggregations.*.{inner}buckets.{key}"
        for inner in ("", f"{FACET_VALUES}.")  # a disjunctive facet's buckets are one level down
        for key in ("key", "key_as_string", "doc_count")
    ),
)
SEARCH_FILTER_PATH = ",".join(_HIT_PATHS)
_ITEM_STATUS_PATHS = ("status", "error.type", "error.reason")
MSEARCH_FILTER_PATH = ",".join(f"responses.{p}" for p in (*_HIT_PATHS, *_ITEM_STATUS_PATHS))
# The page's metrics: every count of its aggregations (bucket order kept) and the cut-offs' sources.
PAGE_METRICS_FILTER_PATH = ",".join(
    f"responses.{p}" for p in ("aggregations.**.doc_count", "hits.hits._source", *_ITEM_STATUS_PATHS)
)
SUGGEST_FILTER_PATH = "took,hits.hits._source"


@dataclass(frozen=True)
class Scope:
    """A list nested under a parent row: its filters, and the parent that must be visible."""

    key: str  # part of the cursor fingerprint
    parent_id: int
    filters: tuple[dict, ...]
    parent_index: IndexDefinition
    parent_query: dict


@dataclass(frozen=True)
class Page:
    results: list[dict]
    count: int
    count_is_lower_bound: bool
    next_cursor: str | None
    facets: dict[str, list[dict]] | None


def leaderboard_scope(assessment_id: int, principal: Principal) -> Scope:
    return Scope(
        key=f"assessment={assessment_id}",
        parent_id=assessment_id,
        filters=({"term": {"assessment": assessment_id}},),
        parent_index=ASSESSMENTS,
        parent_query=exists_query(
            visibility=visibility.assessments(principal), filters=({"term": {"id": assessment_id}},)
        ),
    )


def comments_scope(post_id: int, principal: Principal) -> Scope:
    """A post's comments; a deleted post or one of another organisation is a 404, whatever the
    comment documents say (a post's deletion rewrites none of them)."""
    return Scope(
        key=f"post={post_id}",
        parent_id=post_id,
        filters=({"term": {"post": post_id}},),
        parent_index=POSTS,
        parent_query=exists_query(visibility=visibility.posts(principal), filters=({"term": {"id": post_id}},)),
    )


def detail(schema: ListSchema, principal: Principal, row_id: int) -> dict:
    """One row of a list by its id, with the list's visibility and row shape (derived metrics
    included): a 404 when it does not exist, is deleted, or the caller may not see it."""
    page = list_search(schema, parse_params(schema, [("page_size", ["1"])]), principal, only_id=row_id)
    if not page.results:
        raise NotFound()
    return page.results[0]


def list_search(
    schema: ListSchema,
    query: ListQuery,
    principal: Principal,
    *,
    scope: Scope | None = None,
    only_id: int | None = None,
) -> Page:
    fingerprint = query.fingerprint(schema.name, scope.key if scope else "")
    search_after = None
    if query.cursor is not None:
        try:
            search_after = pagination.decode_cursor(
                query.cursor, fingerprint=fingerprint, sort_length=len(sort_clauses(schema, query))
            )
        except InvalidValue as exc:
            raise BadRequest({"cursor": [str(exc)]}) from None
    visible = schema.visibility(principal)
    scope_filters = (
        *(scope.filters if scope else ()),
        *(({"term": {schema.id_field: only_id}},) if only_id is not None else ()),
    )
    metrics = _DerivedMetrics.prepare(schema, query, visible, scope) if schema.index is ATTEMPTS else None

    words_synonyms = _synonyms(schema.index) if query.q and not has_operator(query.q) else EMPTY_SYNONYMS

    def body(*, typos: bool) -> dict:
        return build_search(
            schema,
            query,
            visibility=visible,
            scope_filters=scope_filters,
            search_after=search_after,
            metric_filter=metrics.filter if metrics else None,
            metric_aggs=metrics.facet_aggs if metrics else None,
            metric_facet_clauses=metrics.facet_clauses if metrics else None,
            source=derived_metrics.SOURCE_FIELDS if metrics else (),
            typos=typos,
            synonyms=words_synonyms,
        )

    # Exact first: q's typo-tolerant form rides in the same msearch as its exact form (no extra round
    # trip) and answers only when the exact form finds fewer than the threshold; rows, count and
    # facets then all come from one of the two.
    widens = settings.SEARCH_TYPO_THRESHOLD > 0 and widens_with_typos(query)
    bodies = [body(typos=False), *([body(typos=True)] if widens else [])]
    responses = _execute(schema.index, bodies, scope)
    answering = 1 if widens and _total(responses[0])["value"] < settings.SEARCH_TYPO_THRESHOLD else 0
    response, query_body = responses[answering], bodies[answering]["query"]
    structlog.contextvars.bind_contextvars(typos=answering == 1)
    hits = response.get("hits", {}).get("hits", [])
    total = _total(response)
    page_hits = hits[: query.page_size]
    next_cursor = pagination.encode_cursor(fingerprint, page_hits[-1]["sort"]) if len(hits) > query.page_size else None
    structlog.contextvars.bind_contextvars(
        list=schema.name, took_ms=response.get("took"), count=total["value"], returned=len(page_hits)
    )  # on the request's http.access line
    if (response.get("took") or 0) >= settings.SLOW_SEARCH_MS:
        log.warning("search.slow", list=schema.name, took_ms=response.get("took"), query=query_body)
    sources = [hit.get("_source", {}) for hit in page_hits]
    if metrics:
        metrics.fill_rows(sources)
    aggregations = response.get("aggregations", {})
    results = [_row(schema, source) for source in sources]
    if query.highlight:
        for row, hit in zip(results, page_hits, strict=True):
            row["highlights"] = row_highlights(schema, hit)
    return Page(
        results=results,
        count=total["value"],
        count_is_lower_bound=total["relation"] != "eq",
        next_cursor=next_cursor,
        facets=_facets(query, aggregations) if query.facets else None,
    )


def suggestions(spec: suggest.Suggestion, query: suggest.SuggestQuery, principal: Principal) -> list[dict]:
    """Up to query.limit rows (id and title) of spec's list that the caller may see, best match first."""
    body = suggest.build_search(spec, query, visibility=spec.schema.visibility(principal))
    with timing.timed("es"):
        response = _client().search(index=spec.schema.index.alias, body=body, filter_path=SUGGEST_FILTER_PATH).body
    hits = response.get("hits", {}).get("hits", [])
    structlog.contextvars.bind_contextvars(list=spec.schema.name, took_ms=response.get("took"), returned=len(hits))
    if (response.get("took") or 0) >= settings.SLOW_SEARCH_MS:
        log.warning("search.slow", list=spec.schema.name, took_ms=response.get("took"), query=body["query"])
    return [{name: hit.get("_source", {}).get(name) for name in spec.row} for hit in hits]


@dataclass
class _DerivedMetrics:
    """Rank, percentile and qualified of one attempts-list request (derived_metrics.py).

    Requests, each one round trip whatever the page size: the boards a metric filter or facet
    spans (only off a leaderboard), their sizes and cut-offs, the threshold keys; then, after the
    page, one aggregation request for the page's rows.
    """

    filter: dict | None  # the derived conditions of the query
    facet_aggs: dict
    cut_offs: dict[int, float | None]
    facet_clauses: dict[Condition, dict]  # derived conditions a disjunctive facet counts without

    @classmethod
    def prepare(cls, schema: ListSchema, query: ListQuery, visible: dict, scope: Scope | None) -> _DerivedMetrics:
        conditions = tuple(c for c in query.conditions if c.filter.derived)
        facet = next((f for f in query.facets if f.derived), None)
        if not conditions and facet is None:
            return cls(None, {}, {}, {})
        # Boards are found under the query's filters only (base_filters leaves the post-filtered
        # ones out), so they cover every row a disjunctive facet counts.
        post = tuple(c for c in facet_conditions(query) if c.filter.derived)
        in_query = tuple(c for c in conditions if c not in post)
        if scope is not None:
            assessment_ids = [scope.parent_id]  # the leaderboard's assessment
        else:
            filters = base_filters(schema, query, visibility=visible)
            response = _search(ATTEMPTS, derived_metrics.scope_assessments_search({"bool": {"filter": filters}}))
            buckets = response.get("aggregations", {}).get("assessments", {}).get("buckets", [])
            if len(buckets) > derived_metrics.MAX_BOARDS:
                names = ", ".join(sorted({c.filter.name for c in conditions} | ({facet.name} if facet else set())))
                raise BadRequest(
                    {
                        "assessment": [
                            f"{names} span more than {derived_metrics.MAX_BOARDS} assessments here; narrow the list "
                            "with assessment= or assessment__in=."
                        ]
                    }
                )
            assessment_ids = sorted(int(b["key"]) for b in buckets)
        if not assessment_ids:
            return cls(
                derived_metrics.MATCH_NONE if in_query else None,
                {facet.name: derived_metrics.qualified_facet([])} if facet else {},
                {},
                {c: derived_metrics.MATCH_NONE for c in post},
            )
        sizes, cuts = _msearch(
            [
                (ATTEMPTS, derived_metrics.board_sizes_search(assessment_ids)),
                (ASSESSMENTS, derived_metrics.cut_offs_search(assessment_ids)),
            ]
        )
        boards = derived_metrics.boards(assessment_ids, sizes, cuts)
        positions = sorted(
            derived_metrics.positions_needed(conditions, boards), key=lambda p: (p.assessment_id, p.order, p.index)
        )
        keys = {}
        if positions:
            found = _msearch([(ATTEMPTS, derived_metrics.position_search(p)) for p in positions])
            keys = {p: r["hits"]["hits"][0]["sort"] for p, r in zip(positions, found, strict=True)}
        return cls(
            filter=derived_metrics.metric_filter(in_query, boards, keys) if in_query else None,
            facet_aggs={facet.name: derived_metrics.qualified_facet(boards)} if facet else {},
            cut_offs=derived_metrics.cut_offs(cuts),
            facet_clauses={c: derived_metrics.metric_filter((c,), boards, keys) for c in post},
        )

    def fill_rows(self, rows: list[dict]) -> None:
        body = derived_metrics.page_metrics_search(rows)
        if body is None:
            derived_metrics.apply_page_metrics(rows, None, {})
            return
        missing = sorted({r["assessment"] for r in rows} - self.cut_offs.keys())
        searches = [(ATTEMPTS, body), *([(ASSESSMENTS, derived_metrics.cut_offs_search(missing))] if missing else [])]
        responses = _msearch(searches, filter_path=PAGE_METRICS_FILTER_PATH)
        cuts = {**self.cut_offs, **(derived_metrics.cut_offs(responses[1]) if missing else {})}
        derived_metrics.apply_page_metrics(rows, responses[0], cuts)


def _row(schema: ListSchema, source: dict) -> dict:
    return {name: source.get(name) for name in schema.row}


def _facets(query: ListQuery, aggregations: dict) -> dict[str, list[dict]]:
    facets = {}
    for facet in query.facets:
        found = aggregations.get(facet.name, {})
        found = found.get(FACET_VALUES, found)  # disjunctive: under its filter aggregation
        facets[facet.name] = (
            derived_metrics.qualified_buckets(found)
            if facet.derived
            else [{"value": facet.type.from_bucket(b), "count": b["doc_count"]} for b in found.get("buckets", [])]
        )
    return facets


_SYNONYMS = SynonymCache(settings.SEARCH_SYNONYMS_TTL_SECONDS)


def _synonyms(index: IndexDefinition) -> Mapping[str, tuple[str, ...]]:
    """The index's synonyms, read at most once per SEARCH_SYNONYMS_TTL_SECONDS (synonym_cache.py)."""

    def read() -> tuple[str, ...]:
        with timing.timed("es"):
            return synonyms.load(_client(), index.name).rules

    return _SYNONYMS.get(index.name, read)


def _client():
    return search_es_client(settings.SEARCH_ES_TIMEOUT_SECONDS)


def _search(index: IndexDefinition, body: dict) -> dict:
    with timing.timed("es"):
        return _client().search(index=index.alias, body=body).body


def _msearch(searches: list[tuple[IndexDefinition, dict]], filter_path: str | None = None) -> list[dict]:
    """One round trip for several searches; any failed item fails the request."""
    lines = [line for index, body in searches for line in ({"index": index.alias}, body)]
    with timing.timed("es"):
        responses = _client().msearch(searches=lines, filter_path=filter_path).body["responses"]
    for item in responses:
        if "error" in item:
            _raise_for_item(item)
    return responses


def _total(response: dict) -> dict:
    return response.get("hits", {}).get("total", {"value": 0, "relation": "eq"})


def _execute(index: IndexDefinition, bodies: list[dict], scope: Scope | None) -> list[dict]:
    """One round trip for the page's searches (and the parent's check): a plain search when there
    is only one and no parent, an msearch otherwise."""
    with timing.timed("es"):
        if scope is None and len(bodies) == 1:
            return [_client().search(index=index.alias, body=bodies[0], filter_path=SEARCH_FILTER_PATH).body]
        searches = [line for body in bodies for line in ({"index": index.alias}, body)]
        if scope is not None:
            searches = [{"index": scope.parent_index.alias}, scope.parent_query, *searches]
        responses = _client().msearch(searches=searches, filter_path=MSEARCH_FILTER_PATH).body["responses"]
    for item in responses:
        if "error" in item:
            _raise_for_item(item)
    if scope is None:
        return responses
    parent, *results = responses
    if parent.get("hits", {}).get("total", {}).get("value", 0) == 0:
        raise NotFound()
    return results


def _raise_for_item(item: dict) -> None:
    """An msearch item failed (a plain search raises by itself; the middleware maps it)."""
    error, status = item["error"], item.get("status", 500)
    log.warning("search.msearch_item_failed", status=status, error=error)
    if status == 400:
        raise BadRequest("The search could not be run with these parameters.")
    raise SearchUnavailable()
