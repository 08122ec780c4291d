"""The list schemas against the index mappings they query (no server needed): every filter,
ordering, facet and returned field exists in the mapping with a compatible type, so a typo or
a mapping change fails here instead of as an Elasticsearch error at request time."""

from __future__ import annotations

import pytest
from django.conf import settings as write_settings

from search_api import derived_metrics
from search_api.filtering import Boolean, Choice, DateTime, Integer, Keyword, Number
from search_api.lists import ALL_LISTS
from shared import redis_cache
from shared.config import load_config

pytestmark = pytest.mark.fast  # no server: bin/test --fast

COMPATIBLE = {
    Integer: {"long", "integer"},
    Number: {"double"},
    Boolean: {"boolean"},
    DateTime: {"date"},
    Keyword: {"keyword"},
    Choice: {"keyword"},
}
TYPE_MAX = {"long": 2**63 - 1, "integer": 2**31 - 1}


def _mapping_type(properties: dict, path: str) -> str | None:
    node: dict | None = {"properties": properties}
    for part in path.split("."):
        node = (node or {}).get("properties", {}).get(part) or (node or {}).get("fields", {}).get(part)
    return (node or {}).get("type", "object" if node and "properties" in node else None)


def test_filters_fit_the_mapping():
    for schema in ALL_LISTS:
        properties = schema.index.properties
        for f in schema.filters:
            if f.derived:  # computed when read: not a document field, never in the mapping
                assert _mapping_type(properties, f.field) is None, (schema.name, f.name)
                continue
            es_type = _mapping_type(properties, f.field)
            assert es_type in COMPATIBLE[type(f.type)], (schema.name, f.name, es_type)
            if isinstance(f.type, Integer):
                assert f.type.maximum <= TYPE_MAX[es_type], (schema.name, f.name)
        for facet in schema.facets:
            if facet.derived:
                continue
            assert _mapping_type(properties, facet.field) in COMPATIBLE[type(facet.type)], (schema.name, facet.name)


def test_orderings_and_rows_fit_the_mapping():
    for schema in ALL_LISTS:
        properties = schema.index.properties
        for ordering in schema.orderings:
            for field, _ in ordering.sort:
                # Sorting needs doc values: never on analysed text.
                assert field == "_score" or _mapping_type(properties, field) not in (None, "text"), (schema.name, field)
        assert _mapping_type(properties, schema.id_field) == "long"
        derived = {"rank", "percentile", "qualified"} if any(f.derived for f in schema.filters) else set()
        assert all(_mapping_type(properties, name) is not None for name in set(schema.row) - derived), schema.name
        assert all(_mapping_type(properties, f.split("^")[0]) == "text" for f in schema.search_fields)
        assert schema.default_ordering in schema.orderings_by_key


def test_derived_metrics_read_facts_the_attempts_mapping_holds():
    from shared.indexes import ATTEMPTS

    for name in (*derived_metrics.SOURCE_FIELDS, "deleted"):
        assert _mapping_type(ATTEMPTS.mappings()["properties"], name) is not None, name
    for field, _ in (*derived_metrics.RANK_ORDER, *derived_metrics.SCORE_ORDER):
        assert _mapping_type(ATTEMPTS.properties, field) == "double", field


def test_session_and_cache_settings_match_the_write_side():
    """search_api reads the sessions write_service writes: same cache, prefix and engine."""
    config = load_config()
    assert redis_cache.cache_settings(config) == write_settings.CACHES
    for name, value in redis_cache.session_settings().items():
        assert getattr(write_settings, name) == value, name
