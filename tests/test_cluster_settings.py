"""The cluster topology's settings and status logic, without a server: several Elasticsearch nodes
in ES_URL, a secured cluster's credentials, and the warnings pipeline_status derives from
Elasticsearch's nodes and Patroni's members."""

from __future__ import annotations

import pytest

from read_indexer.operations import cluster_status
from shared.config import load_config
from shared.es_client import node_options

pytestmark = pytest.mark.fast


def test_es_url_lists_every_node(monkeypatch):
    monkeypatch.setenv("ES_URL", "http://10.0.0.1:9200, http://10.0.0.2:9200,,http://10.0.0.3:9200")
    config = load_config()
    assert config.es_nodes == ["http://10.0.0.1:9200", "http://10.0.0.2:9200", "http://10.0.0.3:9200"]
    assert node_options(config) == {"hosts": config.es_nodes}


def test_a_secured_cluster_gets_credentials_and_its_ca(monkeypatch):
    monkeypatch.setenv("ES_URL", "https://es1:9200,https://es2:9200")
    monkeypatch.setenv("ES_USERNAME", "cqrs_app")
    monkeypatch.setenv("ES_PASSWORD", "secret")
    monkeypatch.setenv("ES_CA_CERTS", "/etc/cqrs/es-ca/ca.crt")
    options = node_options(load_config())
    assert options["basic_auth"] == ("cqrs_app", "secret")
    assert options["ca_certs"] == "/etc/cqrs/es-ca/ca.crt"


def test_patroni_and_etcd_urls_are_lists(monkeypatch):
    monkeypatch.setenv("PATRONI_URLS", "http://a:8008,http://b:8008")
    monkeypatch.delenv("ETCD_URLS", raising=False)
    config = load_config()
    assert config.patroni_urls == ["http://a:8008", "http://b:8008"] and config.etcd_urls == []


def _failover(leader="pg1", sync="pg2", answering=3):
    return {
        "managed": True,
        "leader": leader,
        "sync_standby": sync,
        "members": [],
        "etcd": {"members": [], "answering": answering, "configured": 3},
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"postgres_failover": _failover()}, []),
        ({"postgres_failover": {"managed": False}}, []),
        ({"postgres_failover": _failover(leader=None, sync=None)}, ["PostgreSQL has no leader"]),
        ({"postgres_failover": _failover(sync=None)}, ["no synchronous standby"]),
        ({"postgres_failover": _failover(answering=1)}, ["a majority of etcd members"]),
        ({"elasticsearch_nodes": {"master": None, "nodes": [], "unassigned": []}}, ["no elected master"]),
        ({"elasticsearch_nodes": {"master": "es1", "nodes": [], "unassigned": [{"index": "x"}]}}, ["1 unassigned"]),
    ],
)
def test_warnings(status, expected):
    found = cluster_status.warnings(status)
    assert len(found) == len(expected) and all(e in f for e, f in zip(expected, found, strict=True)), found


def test_render_names_leader_sync_standby_and_unassigned_shards():
    failover = {
        **_failover(),
        "members": [
            {"name": "pg1", "host": "10.0.0.1", "role": "leader", "state": "running", "timeline": 2, "lag_bytes": None},
            {
                "name": "pg2",
                "host": "10.0.0.2",
                "role": "sync_standby",
                "state": "streaming",
                "timeline": 2,
                "lag_bytes": 0,
            },
        ],
    }
    lines = cluster_status.render_failover(failover)
    assert lines[0] == "leader pg1, synchronous standby pg2" and "lag 0 bytes" in lines[2]
    nodes = {
        "master": "es2",
        "nodes": [],
        "unassigned": [{"index": "posts-1", "shard": "0", "primary": False, "reason": "NODE_LEFT"}],
    }
    assert cluster_status.render_elasticsearch(nodes) == [
        "master es2",
        "UNASSIGNED posts-1 shard 0 (replica): NODE_LEFT",
    ]
