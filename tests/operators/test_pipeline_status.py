"""`pipeline_status`: every section, for humans and for scripts."""

from __future__ import annotations

from read_indexer.lifecycle.index_lifecycle import alias_target
from read_indexer.operations import pipeline_status
from read_indexer.task_names import ALL_QUEUES
from shared.indexes import ALL_INDEXES
from tests.operators.support import json_output, manage


def test_json_has_every_section_and_the_table_is_readable(pipeline):
    pipeline_status.wait_until_idle()
    as_json, as_table = manage("pipeline_status", "--json"), manage("pipeline_status")
    assert as_json.returncode in (0, 1), as_json.stderr[-2000:]  # 1 = warnings (e.g. another test's dead letter)
    status = json_output(as_json)
    assert status["unreachable"] == []
    assert status["outbox"]["unindexed"] == 0 and status["outbox"]["oldest_unindexed_seconds"] is None
    assert {"uncounted", "dead_letters"} <= set(status["outbox"])
    queues = status["queues"]
    assert set(queues["depths"]) == set(ALL_QUEUES) and set(ALL_QUEUES) <= set(queues["unacked_by_queue"])
    assert queues["unacked"] == sum(queues["unacked_by_queue"].values()) + queues["unacked_orphaned"]
    assert {"p50", "p99", "samples"} <= set(status["lag"])
    for name, definition in ALL_INDEXES.items():
        entry = status["indexes"][name]
        assert entry["alias"] == definition.alias
        assert [i["index"] for i in entry["indexes"]] == [alias_target(definition)]
        assert entry["indexes"][0]["documents"] == entry["indexes"][0]["live"] + entry["indexes"][0]["tombstones"]
    assert status["cluster"]["status"] in ("green", "yellow")
    replica = status["replication"]["replica"]
    assert replica["in_recovery"] is True and replica["lag_seconds"] is not None
    # The app role has pg_monitor (stack/postgres.sh), so the primary shows the standby's state.
    assert [s["state"] for s in status["replication"]["primary_standbys"]] == ["streaming"]
    assert status["replication"]["note"] is None

    assert as_table.returncode == as_json.returncode
    for title in (
        "Outbox",
        "Celery queues",
        "Commit-to-indexed lag",
        "Indexes",
        "Elasticsearch cluster",
        "PostgreSQL replication",
        "Warnings",
    ):
        assert title in as_table.stdout
    assert "unacked (orphaned)" in as_table.stdout
    assert all(definition.alias in as_table.stdout for definition in ALL_INDEXES.values())
