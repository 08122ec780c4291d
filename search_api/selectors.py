"""Runs one list request against Elasticsearch and shapes the page: the read use-case.

One round trip per request: a plain search, or, for a list nested under a parent (the
leaderboard under its assessment), one msearch that also checks the parent is visible, so an
invisible or missing parent is a 404 instead of an empty list that would confirm it exists.
"""
from __future__ import annotations

from dataclasses import dataclass

import structlog
from django.conf import settings

from search_api import pagination, visibility
from shared import request_timing as timing
from search_api.auth import Principal
from search_api.errors import BadRequest, NotFound, SearchUnavailable
from search_api.filtering import InvalidValue, ListQuery, ListSchema
from search_api.query_builder import build_search, exists_query, sort_clauses
from shared.es_client import get_es_client
from shared.indexes import ASSESSMENTS, IndexDefinition

log = structlog.get_logger(__name__)

_HIT_PATHS = ("took", "hits.total", "hits.hits._source", "hits.hits.sort",
              "aggregations.*.buckets.key", "aggregations.*.buckets.key_as_string", "aggregations.*.buckets.doc_count")
SEARCH_FILTER_PATH = ",".join(_HIT_PATHS)
MSEARCH_FILTER_PATH = ",".join(f"responses.{p}" for p in (*_HIT_PATHS, "status", "error.type", "error.reason"))


@dataclass(frozen=True)
class Scope:
    """A list nested under a parent row: its filters, and the parent that must be visible."""

    key: str  # part of the cursor fingerprint
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
        filters=({"term": {"assessment": assessment_id}},),
        parent_index=ASSESSMENTS,
        parent_query=exists_query(visibility=visibility.assessments(principal),
                                  filters=({"term": {"id": assessment_id}},)),
    )


def list_search(schema: ListSchema, query: ListQuery, principal: Principal, *, scope: Scope | None = None) -> Page:
    fingerprint = query.fingerprint(schema.name, scope.key if scope else "")
    search_after = None
    if query.cursor is not None:
        try:
            search_after = pagination.decode_cursor(query.cursor, fingerprint=fingerprint,
                                                    sort_length=len(sort_clauses(schema, query)))
        except InvalidValue as exc:
            raise BadRequest({"cursor": [str(exc)]}) from None
    body = build_search(schema, query, visibility=schema.visibility(principal),
                        scope_filters=scope.filters if scope else (), search_after=search_after)
    response = _execute(schema.index, body, scope)
    hits = response.get("hits", {}).get("hits", [])
    total = response.get("hits", {}).get("total", {"value": 0, "relation": "eq"})
    page_hits = hits[: query.page_size]
    next_cursor = pagination.encode_cursor(fingerprint, page_hits[-1]["sort"]) if len(hits) > query.page_size else None
    log.info("search.list", list=schema.name, took_ms=response.get("took"), count=total["value"], returned=len(page_hits))
    if (response.get("took") or 0) >= settings.SLOW_SEARCH_MS:
        log.warning("search.slow", list=schema.name, took_ms=response.get("took"), query=body["query"])
    return Page(
        results=[_row(schema, hit.get("_source", {})) for hit in page_hits],
        count=total["value"],
        count_is_lower_bound=total["relation"] != "eq",
        next_cursor=next_cursor,
        facets=_facets(query, response.get("aggregations", {})) if query.facets else None,
    )


def _row(schema: ListSchema, source: dict) -> dict:
    return {name: source.get(name) for name in schema.row}


def _facets(query: ListQuery, aggregations: dict) -> dict[str, list[dict]]:
    return {
        facet.name: [{"value": facet.type.from_bucket(b), "count": b["doc_count"]}
                     for b in aggregations.get(facet.name, {}).get("buckets", [])]
        for facet in query.facets
    }


def _client():
    return get_es_client().options(request_timeout=settings.SEARCH_ES_TIMEOUT_SECONDS)


def _execute(index: IndexDefinition, body: dict, scope: Scope | None) -> dict:
    with timing.timed("es"):
        if scope is None:
            return _client().search(index=index.alias, body=body, filter_path=SEARCH_FILTER_PATH).body
        searches = [{"index": scope.parent_index.alias}, scope.parent_query, {"index": index.alias}, body]
        parent, result = _client().msearch(searches=searches, filter_path=MSEARCH_FILTER_PATH).body["responses"]
    for item in (parent, result):
        if "error" in item:
            _raise_for_item(item)
    if parent.get("hits", {}).get("total", {}).get("value", 0) == 0:
        raise NotFound()
    return result


def _raise_for_item(item: dict) -> None:
    """An msearch item failed (a plain search raises by itself; the middleware maps it)."""
    error, status = item["error"], item.get("status", 500)
    log.warning("search.msearch_item_failed", status=status, error=error)
    if status == 400:
        raise BadRequest("The search could not be run with these parameters.")
    raise SearchUnavailable()

