"""The search API's Elasticsearch node (search_api/es_node.py: PlainHttpNode) against the real node:
keep-alive reuse, chunked and HEAD responses, a connection closed under it, an unreachable node."""

from __future__ import annotations

import socket

import pytest
from elastic_transport import ConnectionError as EsConnectionError
from elasticsearch import Elasticsearch

from search_api.es_node import PlainHttpNode, search_es_client
from shared.config import load_config
from shared.indexes import ATTEMPTS


def _node(client: Elasticsearch) -> PlainHttpNode:
    (node,) = client.transport.node_pool.all()
    return node


def test_reuses_one_connection_per_thread():
    client = search_es_client(5.0)
    client.search(index=ATTEMPTS.alias, body={"size": 0})
    first = _node(client)._local.sock
    assert first is not None
    client.search(index=ATTEMPTS.alias, body={"size": 0})
    assert _node(client)._local.sock is first


def test_chunked_and_head_responses_are_read_whole_and_the_socket_kept():
    client = search_es_client(5.0)
    stats = client.nodes.stats(metric="jvm")  # Elasticsearch sends this one chunked
    assert stats.meta.headers.get("transfer-encoding") == "chunked"
    assert all("jvm" in node for node in stats["nodes"].values())
    sock = _node(client)._local.sock
    assert client.indices.exists(index=ATTEMPTS.alias).body is True  # HEAD: a length, no body
    assert client.search(index=ATTEMPTS.alias, body={"size": 0}).meta.status == 200
    assert _node(client)._local.sock is sock


def test_a_connection_closed_under_it_is_replaced_and_the_search_answered():
    # No Transport retries: the node itself must send the search again on a new connection.
    client = Elasticsearch(load_config().es_url, node_class=PlainHttpNode, request_timeout=5, max_retries=0)
    client.search(index=ATTEMPTS.alias, body={"size": 0})
    stale = _node(client)._local.sock
    stale.shutdown(socket.SHUT_RDWR)  # as when the server drops an idle keep-alive connection
    response = client.search(index=ATTEMPTS.alias, body={"size": 0})
    assert response.meta.status == 200
    assert _node(client)._local.sock is not stale


def test_an_unreachable_node_is_a_connection_error():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Elasticsearch(f"http://127.0.0.1:{port}", node_class=PlainHttpNode, request_timeout=2, max_retries=0)
    with pytest.raises(EsConnectionError):
        client.search(index="anything", body={"size": 0})


def test_https_is_refused():
    with pytest.raises(ValueError):
        Elasticsearch("https://127.0.0.1:9200", node_class=PlainHttpNode)
