"""A leaderboard recompute whose task is lost (worker killed, broker down) is sent again by the
fan-out relay: recomputes have no outbox event, so they keep their own due list in Redis."""
from __future__ import annotations

import time
import uuid
from decimal import Decimal

from django.db.models import F
from django_redis import get_redis_connection

from read_indexer import broker_queues, fanout, pipeline_status, tasks
from shared import task_names
from write_service.outbox.publisher import celery_publisher
from write_service.assessments.models import Attempt
from write_service.assessments.services import assessment_create, attempt_start, attempt_submit
from tests.helpers import make_tenant, wait_until
from tests.pipeline.conftest import es_source


def _ranks(attempt_ids: list[int]) -> list[int | None]:
    return [(es_source("attempts", a) or {}).get("rank") for a in attempt_ids]


def test_a_lost_recompute_is_relayed_and_served():
    tenant = make_tenant(candidates=2)
    assessment = assessment_create(actor=tenant.staff, title="relayed fan-out", cut_off=Decimal(5),
                                   max_score=Decimal(10), duration_minutes=5, status="published")
    attempt_ids = []
    for candidate, score in zip(tenant.candidates, (Decimal(9), Decimal(3))):
        attempt = attempt_start(actor=candidate, assessment_id=assessment.pk)
        attempt_submit(actor=candidate, attempt_id=attempt.pk, score=score)
        attempt_ids.append(attempt.pk)
    wait_until(lambda: _ranks(attempt_ids) == [1, 2], timeout=30, message="first ranks")
    redis = get_redis_connection("default")
    wait_until(lambda: redis.zscore(fanout.DUE_KEY, str(assessment.pk)) is None, timeout=30,
               message="the submissions' recomputes served")

    # A change whose recompute task is lost: recorded as due (as should_schedule does), never sent.
    Attempt.objects.filter(pk=attempt_ids[1]).update(score=Decimal(10), version=F("version") + 1)
    changed = time.time() - fanout.OVERDUE_AFTER_SECONDS - 1
    redis.zadd(fanout.DUE_KEY, {str(assessment.pk): changed})
    redis.hset(fanout.CHANGED_KEY, str(assessment.pk), changed)

    wait_until(lambda: _ranks(attempt_ids) == [2, 1], timeout=30, message="ranks recomputed by the relay")
    wait_until(lambda: redis.zscore(fanout.DUE_KEY, str(assessment.pk)) is None, timeout=10,
               message="the relayed recompute marked served")


def test_a_change_during_a_recompute_stays_due():
    redis = get_redis_connection("default")
    assessment_id = 10**12  # no such assessment: the recompute writes nothing
    redis.zadd(fanout.DUE_KEY, {str(assessment_id): time.time() - 100})
    try:
        started = time.time()
        redis.hset(fanout.CHANGED_KEY, str(assessment_id), started + 0.05)  # a change after the start
        assert redis.eval(fanout._MARK_SERVED, 2, fanout.DUE_KEY, fanout.CHANGED_KEY, str(assessment_id), started) == 0
        assert redis.zscore(fanout.DUE_KEY, str(assessment_id)) == started + 0.05, "due again, from that change"
        time.sleep(0.1)
        assert fanout.recompute(assessment_id) == 0
        assert redis.zscore(fanout.DUE_KEY, str(assessment_id)) is None, "a later recompute serves it"
    finally:
        redis.zrem(fanout.DUE_KEY, str(assessment_id))
        redis.hdel(fanout.CHANGED_KEY, str(assessment_id))


def test_operators_see_due_and_overdue_recomputes():
    redis = get_redis_connection("default")
    assessment_id = 10**12 + 1  # no such assessment; fresh, so the relay leaves it alone for 15 s
    changed = time.time()
    redis.zadd(fanout.DUE_KEY, {str(assessment_id): changed})
    try:
        now = fanout.backlog(now=changed + 1)
        later = fanout.backlog(now=changed + fanout.OVERDUE_AFTER_SECONDS + 40)
        assert now["due"] >= 1 and now["longest_wait_seconds"] >= 1
        assert later["overdue"] >= now["overdue"] + 1, "past OVERDUE_AFTER_SECONDS it counts as overdue"
        assert later["longest_wait_seconds"] >= fanout.OVERDUE_AFTER_SECONDS + 40
        warnings = pipeline_status._warnings({"fanout": later})
        assert any("leaderboard recompute has waited" in w for w in warnings), warnings
    finally:
        redis.zrem(fanout.DUE_KEY, str(assessment_id))


def test_a_duplicate_recompute_of_a_served_assessment_does_no_work():
    tenant = make_tenant(candidates=1)
    assessment = assessment_create(actor=tenant.staff, title="served fan-out", cut_off=Decimal(5),
                                   max_score=Decimal(10), duration_minutes=5, status="published")
    attempt = attempt_start(actor=tenant.candidates[0], assessment_id=assessment.pk)
    attempt_submit(actor=tenant.candidates[0], attempt_id=attempt.pk, score=Decimal(7))
    redis = get_redis_connection("default")
    wait_until(lambda: _ranks([attempt.pk]) == [1] and redis.zscore(fanout.DUE_KEY, str(assessment.pk)) is None,
               timeout=30, message="the submission's recompute served")
    assert fanout.recompute(assessment.pk) == 0, "nothing changed since: a duplicate is a no-op"
    redis.zadd(fanout.DUE_KEY, {str(assessment.pk): time.time()})  # a change waiting for a recompute
    assert fanout.recompute(assessment.pk) == 1, "a due assessment is re-projected"
    assert redis.zscore(fanout.DUE_KEY, str(assessment.pk)) is None


def test_relays_defer_while_a_queue_is_backed_up(monkeypatch):
    queue = f"relay-test-{uuid.uuid4().hex[:8]}"  # consumed by no worker
    for _ in range(3):
        celery_publisher().send_task(task_names.PING, args=["never consumed"], queue=queue)
    try:
        assert broker_queues.depth(queue) == 3
        monkeypatch.setitem(tasks.RELAY_DEFERS_AT_QUEUE_DEPTH, queue, 3)
        assert tasks._queue_backed_up(queue)
        monkeypatch.setitem(tasks.RELAY_DEFERS_AT_QUEUE_DEPTH, queue, 4)
        assert not tasks._queue_backed_up(queue)
    finally:
        broker_queues.broker().delete(*broker_queues.list_keys(queue))
    monkeypatch.setitem(tasks.RELAY_DEFERS_AT_QUEUE_DEPTH, task_names.QUEUE_FANOUT, 0)
    assert tasks.fanout_relay_task() == {"relayed": 0, "deferred": True}
