"""`ensure_index` (run by `bin/run`, the tests and the bench before they use an index) brings a live
index to its definition: in place when Elasticsearch can (settings, added fields), by the
zero-downtime rebuild when it cannot (an analyzer of an index created before the English analysis,
an attempts index created before its index sort)."""

from __future__ import annotations

import dataclasses

from elasticsearch import helpers

from read_indexer.lifecycle.ensure import ensure_index
from read_indexer.lifecycle.index_lifecycle import alias_target, create_physical_index
from shared.es_client import get_es_client
from shared.indexes import ATTEMPTS, POSTS, IndexDefinition
from write_service.read_model.projections import PROJECTIONS

# The posts definition as it was before English analysis: standard analyzer, no `exact` subfields.
BEFORE_ANALYSIS = dataclasses.replace(
    POSTS,
    analysis={},
    properties={
        **POSTS.properties,
        "title": {"type": "text", "fields": {"sort": {"type": "keyword", "ignore_above": 256}}},
        "body": {"type": "text"},
    },
)


def _revision(es, index: str) -> str | None:
    return es.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {}).get("revision")


def _serve_from(definition: IndexDefinition, older: IndexDefinition) -> str:
    """The alias moved onto a new physical index made from `older`, holding every live document."""
    es = get_es_client()
    current = alias_target(definition)
    old = create_physical_index(older)
    # Copied client-side (the node has no reindex module).
    helpers.bulk(
        es,
        (
            {"_index": old, "_id": hit["_id"], "_source": hit["_source"]}
            for hit in helpers.scan(es, index=definition.alias, query={"query": {"match_all": {}}})
        ),
    )
    es.indices.refresh(index=old)
    es.indices.update_aliases(
        actions=[
            {"remove": {"index": current, "alias": definition.alias}},
            {"add": {"index": old, "alias": definition.alias, "is_write_index": True}},
        ]
    )
    es.indices.delete(index=current)
    return old


def test_an_index_older_than_its_analysis_is_rebuilt_with_every_document(pipeline, seeded_posts):
    seed_organisation, seeded = seeded_posts
    es = get_es_client()
    old = _serve_from(POSTS, BEFORE_ANALYSIS)
    assert _revision(es, old) != POSTS.revision
    seed_query = {"term": {"organisation": seed_organisation}}

    rebuilt = ensure_index(POSTS)

    assert rebuilt != old and alias_target(POSTS) == rebuilt
    assert _revision(es, rebuilt) == POSTS.revision
    assert not es.indices.exists(index=old), "the old physical index is dropped after the swap"
    es.indices.refresh(index=POSTS.alias)
    assert es.count(index=POSTS.alias, query=seed_query)["count"] == seeded
    stemmed = {"bool": {"filter": [seed_query], "must": [{"match": {"title": "posts"}}]}}  # titles say "seed post N"
    assert es.count(index=POSTS.alias, query=stemmed)["count"] == seeded


def test_an_index_on_its_definition_is_left_in_place(pipeline):
    before = ensure_index(POSTS)
    assert ensure_index(POSTS) == before == alias_target(POSTS)


def test_an_attempts_index_without_its_sort_is_rebuilt_sorted(pipeline):
    es = get_es_client()
    old = _serve_from(ATTEMPTS, dataclasses.replace(ATTEMPTS, sort=()))
    assert "sort" not in es.indices.get_settings(index=old)[old]["settings"]["index"]

    rebuilt = ensure_index(ATTEMPTS)

    assert rebuilt != old and alias_target(ATTEMPTS) == rebuilt
    assert es.indices.get_settings(index=rebuilt)[rebuilt]["settings"]["index"]["sort"] == {
        "field": ["started_at", "attempt_id"],
        "order": ["desc", "asc"],
    }
    es.indices.refresh(index=ATTEMPTS.alias)
    assert es.count(index=ATTEMPTS.alias)["count"] == PROJECTIONS["attempts"].count_rows()  # a document per row
    assert ensure_index(ATTEMPTS) == rebuilt  # sorted as defined: left in place
