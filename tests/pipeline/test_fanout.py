"""Fan-outs: deleting an assessment turns every attempt document of it into a tombstone, renaming a
user reaches every attempt and post of theirs. The bookkeeping is the captured change's own outbox
row: a lost fan-out task, or a worker killed in the middle of one, is finished by the ordinary
outbox relay, and a duplicate never runs beside a run in progress."""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg2
from django.conf import settings

from read_indexer import task_names
from read_indexer.observability import broker_queues
from read_indexer.operations import pipeline_status
from read_indexer.projection import fanout
from tests.conftest import apps
from tests.helpers import make_tenant, wait_until
from tests.pipeline.conftest import es_source
from write_service.assessments.services import assessment_create, assessment_delete, attempt_start, attempt_submit
from write_service.outbox.models import OutboxEvent
from write_service.read_model.projections import PROJECTIONS

RELAY_SWEEPS_SECONDS = 7  # beat runs the outbox relay every 2 s


def _assessment_with_attempts(candidates: int):
    tenant = make_tenant(candidates=candidates)
    assessment = assessment_create(
        actor=tenant.staff,
        title="to delete",
        cut_off=Decimal(5),
        max_score=Decimal(10),
        duration_minutes=5,
        status="published",
    )
    attempt_ids = []
    for i, candidate in enumerate(tenant.candidates):
        attempt = attempt_start(actor=candidate, assessment_id=assessment.pk)
        if i % 2:
            attempt_submit(actor=candidate, attempt_id=attempt.pk, score=Decimal(i % 10))
        attempt_ids.append(attempt.pk)
    return tenant, assessment, attempt_ids


def _deletion_event(assessment_id: int) -> OutboxEvent:
    return OutboxEvent.objects.get(
        event_type="row.fanout", payload__table="assessments_assessment", payload__id=assessment_id
    )


def _tombstoned(attempt_ids: list[int]) -> bool:
    return all((es_source("attempts", a) or {}).get("deleted") is True for a in attempt_ids)


def _wait_until_finished(assessment_id: int, attempt_ids: list[int], timeout: float) -> None:
    wait_until(
        lambda: _tombstoned(attempt_ids) and _deletion_event(assessment_id).indexed_at is not None,
        timeout=timeout,
        message="every attempt a tombstone, then the deletion event indexed",
    )
    for attempt_id in attempt_ids:
        expected = PROJECTIONS["attempts"].project([attempt_id])[0].source
        assert es_source("attempts", attempt_id) == expected and set(expected) == {
            "attempt_id",
            "assessment",
            "organisation",
            "deleted",
            "content_hash",
        }


def test_deleting_an_assessment_tombstones_every_attempt():
    tenant, assessment, attempt_ids = _assessment_with_attempts(7)
    wait_until(lambda: all(es_source("attempts", a) for a in attempt_ids), timeout=30, message="attempts indexed")
    assessment_delete(actor=tenant.staff, assessment_id=assessment.pk)
    _wait_until_finished(assessment.pk, attempt_ids, timeout=30)
    assert es_source("assessments", assessment.pk)["deleted"] is True


def _lock_like_a_running_fan_out(event_id: int):
    """A side connection holding the event row as a fan-out run does; the event stays eligible for
    the relay otherwise (no backoff pending), so only the lock keeps the relay away."""
    db = settings.DATABASES["default"]
    for _ in range(5):
        OutboxEvent.objects.filter(pk=event_id).update(next_relay_at=None)
        conn = psycopg2.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"], dbname=db["NAME"]
        )
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT next_relay_at, indexed_at FROM outbox_outboxevent WHERE id = %s FOR UPDATE", [event_id]
            )
            next_relay_at, indexed_at = cursor.fetchone()
        assert indexed_at is None
        if next_relay_at is None:  # beat's relay did not claim it between our reset and the lock
            return conn
        conn.close()
    raise AssertionError("could not lock the deletion event with no relay backoff pending")


def _indexing_quiet() -> bool:
    # Held by live workers only: a SIGKILLed worker's unacked messages (crash tests) never run.
    held = pipeline_status.held_by_live_workers()
    return not pipeline_status.queues()["depths"][task_names.QUEUE_INDEXING] and not held.get(task_names.QUEUE_INDEXING)


def test_a_lost_fan_out_and_a_killed_run_are_finished_by_the_outbox_relay():
    tenant, assessment, attempt_ids = _assessment_with_attempts(5)
    pipeline_status.wait_until_idle()
    apps("stop", "worker-fanout")
    try:
        assessment_delete(actor=tenant.staff, assessment_id=assessment.pk)
        event = _deletion_event(assessment.pk)
        wait_until(
            lambda: (es_source("assessments", assessment.pk) or {}).get("deleted") is True,
            timeout=30,
            message="the assessment's own tombstone (indexing path)",
        )
        wait_until(
            lambda: broker_queues.depth(task_names.QUEUE_FANOUT) >= 1, timeout=30, message="the fan-out task sent"
        )

        # A run in progress holds the event row, until its worker is killed (below).
        conn = _lock_like_a_running_fan_out(event.pk)
        try:
            # Indexing tasks already running may still send it once; after them, nothing can.
            wait_until(_indexing_quiet, timeout=30, message="no indexing task queued or running")
            broker_queues.broker().delete(*broker_queues.list_keys(task_names.QUEUE_FANOUT))  # its task is lost too
            assert fanout.fan_out([event.pk]) == 0, "a duplicate stands aside while a run holds the row"
            relays_before = OutboxEvent.objects.get(pk=event.pk).relay_attempts
            time.sleep(RELAY_SWEEPS_SECONDS)
            assert OutboxEvent.objects.get(pk=event.pk).relay_attempts == relays_before, (
                "the relay skips a running fan-out"
            )
            assert broker_queues.depth(task_names.QUEUE_FANOUT) == 0
            assert not any(_tombstoned([a]) for a in attempt_ids)
            assert OutboxEvent.objects.get(pk=event.pk).indexed_at is None
        finally:
            conn.close()  # the worker dies mid-run: its transaction rolls back, the row is free again
    finally:
        apps("start", "worker-fanout")
    # Nothing is queued for it any more: only the outbox relay can bring the fan-out back.
    _wait_until_finished(assessment.pk, attempt_ids, timeout=60)
    assert OutboxEvent.objects.get(pk=event.pk).relay_attempts > relays_before


def test_renaming_a_user_reaches_every_attempt_and_post_of_theirs():
    from write_service.accounts.models import User
    from write_service.discussions.services import post_create

    tenant, assessment, attempt_ids = _assessment_with_attempts(1)
    candidate = tenant.candidates[0]
    post = post_create(actor=candidate, title="by the candidate", body="text")
    wait_until(
        lambda: es_source("attempts", attempt_ids[0]) and es_source("posts", post.pk),
        timeout=30,
        message="attempt and post indexed",
    )
    User.objects.filter(pk=candidate.pk).update(display_name="Renamed Candidate")  # a bypass write, no service
    wait_until(
        lambda: (
            es_source("attempts", attempt_ids[0])["candidate"]["display_name"] == "Renamed Candidate"
            and es_source("posts", post.pk)["author"]["display_name"] == "Renamed Candidate"
        ),
        timeout=30,
        message="the new name in the attempt and the post",
    )
