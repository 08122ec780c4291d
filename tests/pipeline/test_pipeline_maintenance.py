"""Dead letters, reconciliation of drifted counters, outbox cleanup, lag figures."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from read_indexer.capture import outbox_relay
from read_indexer.observability import lag
from read_indexer.projection.event_projection import project_events
from tests.helpers import make_tenant, wait_until
from write_service.discussions.models import Post
from write_service.discussions.services import comment_create, post_create
from write_service.outbox.models import DeadLetter, OutboxEvent
from write_service.read_model import counters


def test_an_event_that_breaks_its_contract_goes_to_the_dead_letter_store():
    bad = OutboxEvent.objects.create(
        event_type="row.changed",
        payload={"table": "discussions_post", "id": 1, "op": "insert", "old": None, "new": {}, "surprise": True},
        occurred_at=timezone.now(),
        counters_applied_at=timezone.now(),
    )
    try:
        project_events([bad.pk])
        bad.refresh_from_db()
        letter = DeadLetter.objects.get(event_id=bad.pk)
        assert bad.dead_at is not None and "surprise" in letter.error and letter.handler == "indexing"
    finally:
        # The test database outlives the run: leave no dead letter for operators' "idle" checks.
        OutboxEvent.objects.filter(pk=bad.pk).delete()


def test_reconciliation_repairs_drifted_counters_and_logs_them():
    tenant = make_tenant(candidates=0)
    post = post_create(actor=tenant.staff, title="drift", body="b")
    for _ in range(3):
        comment_create(actor=tenant.staff, post_id=post.pk, body="c")
    wait_until(lambda: Post.objects.get(pk=post.pk).comments_count == 3, timeout=30, message="counted")
    Post.objects.filter(pk=post.pk).update(comments_count=42)  # drift injected behind the pipeline's back
    repaired = wait_until(
        lambda: counters.reconcile_recent().get("discussions_post"),
        timeout=30,
        message="a reconciliation pass with no pending events",
    )
    assert post.pk in repaired
    assert Post.objects.get(pk=post.pk).comments_count == 3


def test_a_repair_never_counts_a_row_whose_counter_event_is_still_pending():
    """The pending-event guard lives in the repairing statement itself (one snapshot): a comment
    committed after an earlier check would otherwise be counted by the repair and by its event."""
    tenant = make_tenant(candidates=0)
    post = post_create(actor=tenant.staff, title="guarded repair", body="b")
    comment_create(actor=tenant.staff, post_id=post.pk, body="c")
    wait_until(lambda: Post.objects.get(pk=post.pk).comments_count == 1, timeout=30, message="counted")
    repair = counters._RECONCILE_SQL["discussions_post"]
    with transaction.atomic(), connection.cursor() as cursor:
        # Uncommitted, so invisible to the workers: drift, plus an event still waiting for counters.
        Post.objects.filter(pk=post.pk).update(comments_count=7)
        pending = OutboxEvent.objects.create(
            event_type="row.changed",
            payload={
                "table": "discussions_comment",
                "id": 0,
                "op": "insert",
                "old": None,
                "new": {"post_id": post.pk, "deleted_at": None},
            },
            occurred_at=timezone.now(),
        )
        cursor.execute(repair, [900])
        assert cursor.fetchall() == [], "no repair while a counter event is pending"
        pending.delete()
        cursor.execute(repair, [900])
        assert (post.pk, 1) in cursor.fetchall(), "with none pending, the same statement repairs"
        transaction.set_rollback(True)


def test_cleanup_removes_fully_processed_events_past_retention_only():
    old = timezone.now() - timedelta(days=30)
    done = OutboxEvent.objects.create(
        event_type="row.changed",
        payload={"table": "discussions_post", "id": 1, "op": "update", "old": {}, "new": {}},
        occurred_at=old,
        indexed_at=old,
        counters_applied_at=old,
    )
    pending = OutboxEvent.objects.create(
        event_type="row.changed",
        payload={"table": "discussions_post", "id": 1, "op": "update", "old": {}, "new": {}},
        occurred_at=old,
        indexed_at=None,
        counters_applied_at=old,
        dead_at=old,
    )
    result = outbox_relay.cleanup(retention_days=7)
    assert result["events"] >= 1
    assert not OutboxEvent.objects.filter(pk=done.pk).exists()
    assert OutboxEvent.objects.filter(pk=pending.pk).exists()  # unprocessed (here: dead) events stay


def test_commit_to_indexed_lag_is_recorded():
    tenant = make_tenant(candidates=0)
    started = time.time()
    for i in range(5):
        post_create(actor=tenant.staff, title=f"lag {i}", body="b")

    def own_samples():
        # Only samples recorded since this test began: earlier fault tests leave long lags behind.
        figures = lag.percentiles(window_seconds=time.time() - started)
        return figures["samples"] >= 5 and figures

    figures = wait_until(own_samples, timeout=30, message="lag samples")
    assert 0 <= figures["p50"] <= figures["p99"] <= figures["max"] < 30


def test_the_relay_defers_while_the_indexing_queue_is_backed_up(monkeypatch):
    from read_indexer import task_names
    from read_indexer.celery_app import app as celery_app
    from read_indexer.observability import broker_queues
    from read_indexer.tasks.maintenance import outbox_relay_task

    queue = f"relay-test-{uuid.uuid4().hex[:8]}"  # consumed by no worker
    for _ in range(3):
        celery_app.send_task(task_names.PING, args=["never consumed"], queue=queue)
    try:
        assert broker_queues.depth(queue) == 3
        monkeypatch.setitem(outbox_relay.RELAY_DEFERS_AT_QUEUE_DEPTH, queue, 3)
        assert outbox_relay._queue_backed_up(queue)
        monkeypatch.setitem(outbox_relay.RELAY_DEFERS_AT_QUEUE_DEPTH, queue, 4)
        assert not outbox_relay._queue_backed_up(queue)
    finally:
        broker_queues.broker().delete(*broker_queues.list_keys(queue))
    monkeypatch.setitem(outbox_relay.RELAY_DEFERS_AT_QUEUE_DEPTH, task_names.QUEUE_INDEXING, 0)
    assert outbox_relay_task()["relayed"] == 0, "a backed-up indexing queue: nothing re-sent"
