"""`dead_letters list|replay|discard`: a replayed event is delivered, a discarded one is gone."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from shared.es_client import get_es_client
from shared.indexes import POSTS
from tests.helpers import row_changes, wait_until
from tests.operators.support import json_output, manage
from write_service.discussions.models import Post
from write_service.outbox.models import DeadLetter, OutboxEvent


def _dead_letter(event_type: str, payload: dict) -> OutboxEvent:
    """An event the pipeline gave up on (e.g. Elasticsearch was down longer than the relay's patience)."""
    now = timezone.now()
    event = OutboxEvent.objects.create(
        event_type=event_type,
        payload=payload,
        occurred_at=now,
        dead_at=now,
        relay_attempts=12,
        last_error="ConnectionError: Elasticsearch unreachable",
    )
    DeadLetter.objects.create(event=event, handler="indexing", error=event.last_error, attempts=12)
    return event


def test_list_replay_and_discard(pipeline, tenant):
    with transaction.atomic():
        post = Post.objects.create(
            organisation=tenant.organisation,
            author=tenant.staff,
            title="never indexed",
            body="its change died",
            last_activity_at=timezone.now(),
        )
        lost = row_changes(Post, post.pk).get()  # recorded by the capture trigger, dead before it commits
        lost.dead_at, lost.relay_attempts, lost.last_error = (
            timezone.now(),
            12,
            "ConnectionError: Elasticsearch unreachable",
        )
        lost.save()
        DeadLetter.objects.create(event=lost, handler="indexing", error=lost.last_error, attempts=12)
    broken = _dead_letter("post.exploded", {"post_id": post.pk})  # a contract bug: replaying cannot help

    listed = manage("dead_letters", "list", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    by_id = {letter["event_id"]: letter for letter in json_output(listed)}
    assert by_id[lost.pk]["event_type"] == "row.changed" and by_id[broken.pk]["handler"] == "indexing"
    table = manage("dead_letters", "list")
    assert str(lost.pk) in table.stdout and "ConnectionError" in table.stdout

    replayed = manage("dead_letters", "replay", str(lost.pk))
    assert replayed.returncode == 0 and f"Replayed 1 event(s): {lost.pk}." in replayed.stdout
    es = get_es_client()
    wait_until(
        lambda: es.exists(index=POSTS.alias, id=str(post.pk)), timeout=30, message="the replayed event's document"
    )
    wait_until(lambda: OutboxEvent.objects.get(pk=lost.pk).indexed_at is not None, timeout=30, message="indexed_at")
    assert not DeadLetter.objects.filter(event_id=lost.pk).exists()
    assert OutboxEvent.objects.get(pk=lost.pk).dead_at is None

    discarded = manage("dead_letters", "discard", str(broken.pk))
    assert discarded.returncode == 0 and f"Discarded 1 event(s): {broken.pk}." in discarded.stdout
    assert not OutboxEvent.objects.filter(pk=broken.pk).exists()
    assert not DeadLetter.objects.filter(event_id=broken.pk).exists()
