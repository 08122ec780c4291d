"""The Elasticsearch client, one per process (get_es_client), and the orjson serializers it and the
search API's hot-path client (search_api/es_node.py) both use."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import orjson
from elasticsearch import Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from shared.config import Config, load_config


class OrjsonNdjsonSerializer(NdjsonSerializer):
    """ndjson bodies (_msearch, _bulk) through orjson: the client's default ndjson serializer is the
    stdlib json module, line by line, even when `serializer=OrjsonSerializer()` is given (that one
    only replaces application/json and its compatibility mimetype)."""

    mimetype: ClassVar[str] = "application/x-ndjson"

    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


def node_options(config: Config) -> dict[str, Any]:
    """Every node of ES_URL, and the credentials of a secured cluster. No sniffing: the nodes are
    the configured list (all master-eligible data nodes), and a sniffed publish address is not
    always one this host can reach (a container's, say); a node that fails is marked dead and
    the request retried on another."""
    options: dict[str, Any] = {"hosts": config.es_nodes}
    if config.es_username:
        options["basic_auth"] = (config.es_username, config.es_password)
    if config.es_ca_certs:
        options["ca_certs"] = config.es_ca_certs
    return options


@functools.cache
def get_es_client() -> Elasticsearch:
    config = load_config()
    return Elasticsearch(
        **node_options(config),
        request_timeout=30,
        max_retries=2,
        retry_on_timeout=True,
        connections_per_node=32,
        # orjson: a third of the client's own time per search went to json.dumps/loads (bench/);
        # the compatibility mimetypes (what the client actually sends) follow these two.
        serializers={"application/json": OrjsonSerializer(), "application/x-ndjson": OrjsonNdjsonSerializer()},
    )
