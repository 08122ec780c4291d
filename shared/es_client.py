"""The one Elasticsearch client factory: one pooled client per process, shared by every caller."""
from __future__ import annotations

import functools

from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

from shared.config import load_config


@functools.cache
def get_es_client() -> Elasticsearch:
    config = load_config()
    return Elasticsearch(
        config.es_url,
        request_timeout=30,
        max_retries=2,
        retry_on_timeout=True,
        connections_per_node=32,
        # orjson: a third of the client's own time per search went to json.dumps/loads (bench/).
        serializer=OrjsonSerializer(),
    )
