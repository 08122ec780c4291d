"""pipeline_status on an app host of the cluster: the nodes, the master and where the shards are,
Patroni's leader and synchronous standby, the etcd members, with no warning on a healthy cluster."""

from __future__ import annotations

import json

import pytest

from tests.cluster import topology

pytestmark = [pytest.mark.cluster]


def test_pipeline_status_shows_the_cluster(cluster):
    topology.es_wait_green()
    members = topology.wait_for_leader_with_sync()
    status = json.loads(topology.manage("pipeline_status", "--json", check=False).stdout)

    nodes = status["elasticsearch_nodes"]
    assert sorted(node["name"] for node in nodes["nodes"]) == list(topology.ES_HOSTS)
    assert nodes["master"] in topology.ES_HOSTS and nodes["unassigned"] == []
    # Replicas 1: every index's one primary and one replica, on two different nodes.
    assert sum(n["shards"]["primaries"] for n in nodes["nodes"]) == 4
    assert sum(n["shards"]["replicas"] for n in nodes["nodes"]) == 4
    failover = status["postgres_failover"]
    assert failover["managed"] and failover["leader"] == members.leader
    assert failover["sync_standby"] == members.sync_standby
    assert sorted(m["name"] for m in failover["members"]) == list(topology.PG_HOSTS)
    assert failover["etcd"]["answering"] == 3 and len(failover["etcd"]["members"]) == 3
    assert status["cluster"]["status"] == "green" and status["unreachable"] == []
    assert not [w for w in status["warnings"] if "etcd" in w or "leader" in w or "master" in w], status["warnings"]
