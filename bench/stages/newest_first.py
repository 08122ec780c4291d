"""Stage `newest_first`: the attempts list's newest-first page searches on the same documents in an
index without index sorting and in one sorted as the attempts index is (shared/indexes.py).

Both copies are made from the live index (scan + bulk) and force-merged to one segment, then each of
the list's orderings is sent straight to Elasticsearch, one request at a time, with the query cache
cleared before each run. The unsorted copy's cost depends on how its documents happen to sit in its
segment: a copy does not always land in the slow layout seen on a freshly seeded index
(bench/README.md, "Newest first"), so the unsorted side is a sample, the sorted side the bound."""

from __future__ import annotations

import dataclasses
import statistics
import time

from elasticsearch import helpers

from bench.stages.context import StageContext
from shared.indexes import ATTEMPTS

REQUESTS_PER_RUN = 60
# The API's page search for `attempts?status=submitted&ordering=...` by the organisation's staff
# (search_api/query_builder.py): the status filter, the ordering, the count bound; visibility
# reduced to the organisation (the staff member's own attempts as a candidate left out).
ORDERINGS = {"-started_at": "started_at", "-submitted_at": "submitted_at", "-score": "score"}


def _page_search(organisation: int, field: str) -> dict:
    return {
        "query": {
            "bool": {
                "filter": [
                    {"term": {"deleted": False}},
                    {"term": {"organisation": organisation}},
                    {"term": {"status": "submitted"}},
                ]
            }
        },
        "sort": [{field: {"order": "desc", "missing": "_last"}}, {"attempt_id": {"order": "asc"}}],
        "size": 21,
        "_source": ["attempt_id", "score", "submitted_at", "started_at"],
        "track_total_hits": 10_000,
    }


def _copy(es, definition, source_alias: str) -> str:
    """A physical index of `definition` holding every document of the alias, merged to one segment."""
    from read_indexer.lifecycle import index_lifecycle

    target = index_lifecycle.create_physical_index(definition, bulk_load=True)
    hits = helpers.scan(es, index=source_alias, size=5000, query={"query": {"match_all": {}}})
    helpers.bulk(es, ({"_index": target, "_id": h["_id"], "_source": h["_source"]} for h in hits), chunk_size=5000)
    es.indices.refresh(index=target)
    es.options(request_timeout=1800).indices.forcemerge(index=target, max_num_segments=1)
    return target


def _run(es, index: str, body: dict) -> dict:
    es.indices.clear_cache(index=index, query=True, request=True)
    took, wall = [], []
    for _ in range(REQUESTS_PER_RUN):
        started = time.perf_counter()
        took.append(es.search(index=index, body=body)["took"])
        wall.append((time.perf_counter() - started) * 1000)
    took.sort()
    return {
        "took_p50_ms": statistics.median(took),
        "took_p95_ms": took[int(len(took) * 0.95) - 1],
        "wall_p50_ms": round(statistics.median(wall), 2),
    }


def run(ctx: StageContext) -> None:
    from shared.es_client import get_es_client

    es = get_es_client().options(request_timeout=600)
    buckets = es.search(
        index=ATTEMPTS.alias,
        size=0,
        query={"term": {"status": "submitted"}},
        aggs={"orgs": {"terms": {"field": "organisation", "size": 1}}},
    )["aggregations"]["orgs"]["buckets"]
    organisation, matches = buckets[0]["key"], buckets[0]["doc_count"]
    copies = {}
    try:
        for name, definition in (("unsorted", dataclasses.replace(ATTEMPTS, sort=())), ("sorted", ATTEMPTS)):
            started = time.monotonic()
            copies[name] = _copy(es, definition, ATTEMPTS.alias)
            print(f"  {name} copy of {ATTEMPTS.alias}: {time.monotonic() - started:.1f} s", flush=True)
        figures: dict = {"organisation_matches": matches, "requests_per_run": REQUESTS_PER_RUN, "orderings": {}}
        for ordering, field in ORDERINGS.items():
            body = _page_search(organisation, field)
            runs = {name: _run(es, index, body) for name, index in copies.items()}
            unsorted_ms, sorted_ms = runs["unsorted"]["wall_p50_ms"], runs["sorted"]["wall_p50_ms"]
            runs["unsorted_vs_sorted_wall_p50"] = round(unsorted_ms / sorted_ms, 2) if sorted_ms else None
            figures["orderings"][ordering] = runs
            print(
                f"  ordering={ordering:<14} took p50 unsorted {runs['unsorted']['took_p50_ms']} ms / sorted "
                f"{runs['sorted']['took_p50_ms']} ms; wall p50 {unsorted_ms} / {sorted_ms} ms "
                f"(x{runs['unsorted_vs_sorted_wall_p50']})",
                flush=True,
            )
    finally:
        for index in copies.values():
            es.indices.delete(index=index, ignore_unavailable=True)
    ctx.figures["newest_first"] = figures
