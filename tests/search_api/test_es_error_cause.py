"""The log line of a search Elasticsearch refused names Elasticsearch's own reason (an unavailable
shard, say), not only the exception's name."""

from __future__ import annotations

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

from search_api.middleware import _es_cause

pytestmark = [pytest.mark.fast]


def _error(status: int, body) -> ApiError:
    meta = ApiResponseMeta(status, "1.1", HttpHeaders(), 0.01, NodeConfig("http", "127.0.0.1", 9200))
    return ApiError("search_phase_execution_exception", meta, body)


def test_the_root_causes_are_named():
    body = {
        "error": {
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
            "root_cause": [{"type": "no_shard_available_action_exception", "reason": "[es1][test_posts][0]"}],
        },
        "status": 503,
    }
    assert _es_cause(_error(503, body)) == "no_shard_available_action_exception: [es1][test_posts][0]"


def test_an_error_without_root_causes_names_itself():
    body = {"error": {"type": "cluster_block_exception", "reason": "blocked by: [SERVICE_UNAVAILABLE/2/no master];"}}
    assert _es_cause(_error(503, body)).startswith("cluster_block_exception: blocked by")


def test_a_body_that_is_not_json_is_quoted():
    assert _es_cause(_error(502, "Bad Gateway")) == "Bad Gateway"
