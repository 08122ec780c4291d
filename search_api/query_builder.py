"""Turns a list schema and parsed parameters into one Elasticsearch search body.

- Every non-scoring clause (tombstones, visibility, scope, filters) goes in filter context:
  cached by Elasticsearch and never scored. Only `q` is scored.
- User text reaches Elasticsearch only as the query of a `simple_query_string` restricted to
  safe operators (no fuzzy, slop, near or prefix expansion), never `query_string` or a script.
- `_source` is limited to the row's fields; sorting always ends with the list's unique id, so
  `search_after` never skips or repeats rows that share sort values.
"""
from __future__ import annotations

from search_api.filtering import EXACT, IN, Condition, ListQuery, ListSchema

COUNT_BOUND = 10_000  # counts are exact up to this many rows; beyond, a lower bound (flagged)
NOT_DELETED = {"term": {"deleted": False}}
# + - | " ( ) and whitespace; everything else in q is matched as plain words.
SAFE_QUERY_FLAGS = "AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE"


def filter_clause(c: Condition) -> dict:
    to_es = c.filter.type.to_es
    if c.lookup == EXACT:
        return {"term": {c.filter.field: to_es(c.value)}}
    if c.lookup == IN:
        return {"terms": {c.filter.field: [to_es(v) for v in c.value]}}
    # One range per bound, never merged: {"gt": a, "gte": b} in one range keeps only one of them.
    return {"range": {c.filter.field: {c.lookup: to_es(c.value)}}}


def text_query(schema: ListSchema, q: str) -> dict:
    return {
        "simple_query_string": {
            "query": q, "fields": list(schema.search_fields), "default_operator": "and",
            "flags": SAFE_QUERY_FLAGS, "lenient": True,
        }
    }


def sort_clauses(schema: ListSchema, query: ListQuery) -> list[dict]:
    sort: list[dict] = []
    seen: set[str] = set()
    for ordering in query.ordering:
        for field, order in ordering.sort:
            if field in seen:  # e.g. rank,score: score already sorts; a repeat would change nothing
                continue
            seen.add(field)
            sort.append({field: {"order": order}} if field == "_score" else {field: {"order": order, "missing": "_last"}})
    sort.append({schema.id_field: {"order": "asc"}})
    return sort


def base_filters(schema: ListSchema, query: ListQuery, *, visibility: dict, scope_filters: tuple[dict, ...] = ()) -> list[dict]:
    """Every filter clause but those of derived metrics (derived_metrics.py builds those)."""
    plain = (c for c in query.conditions if not c.filter.derived)
    return [NOT_DELETED, visibility, *schema.base_filters, *scope_filters, *map(filter_clause, plain)]


def build_search(schema: ListSchema, query: ListQuery, *, visibility: dict, scope_filters: tuple[dict, ...] = (),
                 search_after: list | None = None, metric_filter: dict | None = None,
                 metric_aggs: dict | None = None, source: tuple[str, ...] = ()) -> dict:
    filters = base_filters(schema, query, visibility=visibility, scope_filters=scope_filters)
    bool_query: dict = {"filter": [*filters, *((metric_filter,) if metric_filter else ())]}
    if query.q:
        bool_query["must"] = [text_query(schema, query.q)]
    body: dict = {
        "query": {"bool": bool_query},
        "sort": sort_clauses(schema, query),
        "size": query.page_size + 1,  # one extra row tells whether a next page exists
        "_source": list(dict.fromkeys((*schema.row, *source))),
        "track_total_hits": COUNT_BOUND,
    }
    if search_after is not None:
        body["search_after"] = search_after
    aggs = {f.name: {"terms": {"field": f.field, "size": f.size}} for f in query.facets if not f.derived}
    aggs.update(metric_aggs or {})
    if aggs:
        body["aggs"] = aggs
    return body


def exists_query(*, visibility: dict, filters: tuple[dict, ...]) -> dict:
    """A cheap "is this row there and visible?" search (stops at the first match)."""
    return {
        "size": 0, "terminate_after": 1, "track_total_hits": True,
        "query": {"bool": {"filter": [NOT_DELETED, visibility, *filters]}},
    }
