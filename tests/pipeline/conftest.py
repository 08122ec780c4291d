"""Fixtures for the pipeline: real workers, and reading documents back from Elasticsearch."""

from __future__ import annotations

import pytest

from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from tests.search_api.conftest import search, search_server  # noqa: F401 (fixtures: the real search API)


def es_source(index: str, doc_id: int) -> dict | None:
    response = get_es_client().options(ignore_status=404).get(index=ALL_INDEXES[index].alias, id=str(doc_id))
    return response.body.get("_source") if response.body.get("found") else None


def es_version(index: str, doc_id: int) -> int | None:
    response = get_es_client().options(ignore_status=404).get(index=ALL_INDEXES[index].alias, id=str(doc_id))
    return response.body.get("_version") if response.body.get("found") else None


@pytest.fixture(autouse=True)
def _workers(request):
    """Real workers for every pipeline test but the `fast` ones, which must run with no server."""
    if request.node.get_closest_marker("fast") is None:
        request.getfixturevalue("pipeline")
