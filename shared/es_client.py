"""The Elasticsearch client, one per process (get_es_client), and the orjson serializers it and the
search API's hot-path client (search_api/es_node.py) both use."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import orjson
from elasticsearch import Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from shared.config import load_config


class OrjsonNdjsonSerializer(NdjsonSerializer):
    """ndjson bodies (_msearch, _bulk) through orjson: the client's default ndjson serializer is the
    stdlib json module, line by line, even when `serializer=OrjsonSerializer()` is given (that one
    only replaces application/json and its compatibility mimetype)."""

    mimetype: ClassVar[str] = "application/x-ndjson"

    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


@functools.cache
def get_es_client() -> Elasticsearch:
    config = load_config()
    return Elasticsearch(
        config.es_url,
        request_timeout=30,
        max_retries=2,
        retry_on_timeout=True,
        connections_per_node=32,
        # orjson: a third of the client's own time per search went to json.dumps/loads (bench/);
        # the compatibility mimetypes (what the client actually sends) follow these two.
        serializers={"application/json": OrjsonSerializer(), "application/x-ndjson": OrjsonNdjsonSerializer()},
    )
