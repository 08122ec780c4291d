"""The drift sweep (read_indexer/capture/drift_sweep.py): a document gone wrong behind the pipeline's back is
found among the recently changed rows, repaired, logged and counted; a document ahead of the
database is logged and counted but left alone; a clean window repairs nothing."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from read_indexer.capture import drift_sweep
from read_indexer.operations import pipeline_status
from shared.es_client import get_es_client
from shared.indexes import POSTS
from tests.helpers import wait_until
from tests.operators.support import beat_stopped
from tests.pipeline.conftest import es_source
from write_service.outbox.models import OutboxEvent


@pytest.fixture(scope="module", autouse=True)
def _no_beat(pipeline):
    """Beat's own pass (every 30 s) would heal a corruption before the pass under test looks at it."""
    with beat_stopped():
        yield


def _indexed_post(api, tenant, title: str) -> int:
    """A post created through the write API, indexed, with its changes inside the sweep's window."""
    post_id = api.post("/api/v1/posts", {"title": title, "body": "b"}, token=tenant.staff_token).json()["id"]
    wait_until(lambda: es_source("posts", post_id), timeout=30, message="the post's document")
    pipeline_status.wait_until_idle()
    changes = OutboxEvent.objects.filter(payload__table="discussions_post", payload__id=post_id)
    assert changes.exists(), "the capture recorded no change row for the post"
    settled = timedelta(seconds=drift_sweep.SETTLE_SECONDS)
    wait_until(
        lambda: not changes.filter(indexed_at__gt=timezone.now() - settled).exists(),
        timeout=10,
        message="the post's changes older than the sweep's settle time",
    )
    return post_id


def _counter(name: str, kind: str) -> float:
    return REGISTRY.get_sample_value(name, {"index": "posts", "kind": kind}) or 0.0


def _sweep_events(caplog) -> list[dict]:
    return [r.msg for r in caplog.records if r.name == "read_indexer.capture.drift_sweep" and isinstance(r.msg, dict)]


def test_a_corrupted_document_is_repaired_logged_and_counted_and_a_clean_window_repairs_nothing(api, tenant, caplog):
    post_id = _indexed_post(api, tenant, "drift sweep")
    es, doc_id = get_es_client(), str(post_id)
    indexed = es.get(index=POSTS.alias, id=doc_id)
    # Same version, other content: what a lost update or a buggy writer leaves behind.
    es.index(
        index=POSTS.alias,
        id=doc_id,
        document={**indexed["_source"], "title": "a wrong title"},
        version=indexed["_version"],
        version_type="external_gte",
    )
    before = _counter("pipeline_drift_repaired_total", "stale")

    with caplog.at_level(logging.WARNING, logger="read_indexer.capture.drift_sweep"):
        summary = drift_sweep.sweep()

    assert summary["checked"].get("posts", 0) >= 1 and not summary["truncated"]
    assert summary["repaired"] == {"posts": {"stale": 1}} and summary["unrepaired"] == {}
    repaired = es.get(index=POSTS.alias, id=doc_id)
    assert repaired["_source"] == indexed["_source"] and repaired["_version"] == indexed["_version"]
    assert _counter("pipeline_drift_repaired_total", "stale") == before + 1
    [event] = [e for e in _sweep_events(caplog) if e["event"] == "drift_sweep.repaired"]
    assert (event["index"], event["kind"], event["ids"], event["count"]) == ("posts", "stale", [post_id], 1)

    clean = drift_sweep.sweep()
    assert clean["checked"].get("posts", 0) >= 1, "the repaired post's change is still in the window"
    assert clean["repaired"] == {} and clean["unrepaired"] == {}
    assert es.get(index=POSTS.alias, id=doc_id)["_seq_no"] == repaired["_seq_no"], "a clean pass writes nothing"
    assert pipeline_status.drift()["last"] == clean


def test_a_document_ahead_of_the_database_is_logged_counted_and_left_alone(api, tenant, caplog):
    post_id = _indexed_post(api, tenant, "drift sweep ahead")
    es, doc_id = get_es_client(), str(post_id)
    indexed = es.get(index=POSTS.alias, id=doc_id)
    ahead = {**indexed["_source"], "title": "written by a restored backup"}
    es.index(index=POSTS.alias, id=doc_id, document=ahead, version=indexed["_version"] + 1, version_type="external")
    before = _counter("pipeline_drift_unrepaired_total", "ahead")

    with caplog.at_level(logging.WARNING, logger="read_indexer.capture.drift_sweep"):
        summary = drift_sweep.sweep()

    assert summary["repaired"] == {} and summary["unrepaired"] == {"posts": {"ahead": 1}}
    untouched = es.get(index=POSTS.alias, id=doc_id)
    assert untouched["_source"] == ahead and untouched["_version"] == indexed["_version"] + 1
    assert _counter("pipeline_drift_unrepaired_total", "ahead") == before + 1
    [event] = [e for e in _sweep_events(caplog) if e["event"] == "drift_sweep.unrepaired"]
    assert (event["kind"], event["ids"]) == ("ahead", [post_id]) and "reindex posts" in event["fix"]
    status = pipeline_status.collect()
    assert any("drift sweep left 1 drifted" in warning for warning in status["warnings"]), status["warnings"]

    # The post's next write reaches the document's version, so the pipeline's own write replaces it.
    assert api.patch(f"/api/v1/posts/{post_id}", {"title": "edited"}, token=tenant.staff_token).status_code == 200
    wait_until(lambda: es_source("posts", post_id)["title"] == "edited", timeout=30, message="the edit indexed")
