"""An indexing task takes the pending backlog along, and a poison event in it cannot block the rest."""

from __future__ import annotations

from read_indexer.projection import event_projection
from read_indexer.projection.event_projection import project_events
from shared.events import ROW_CHANGE_TYPES
from tests.helpers import make_tenant, wait_until
from write_service.discussions.models import Post
from write_service.discussions.services import post_create
from write_service.outbox.models import OutboxEvent


def _indexed_posts(titles: list[str]) -> tuple[list[int], list[int]]:
    """Posts written through the service; waits until the workers indexed them. (post ids, change ids)"""
    tenant = make_tenant(candidates=0)
    post_ids = [post_create(actor=tenant.staff, title=title, body="b").pk for title in titles]
    events = OutboxEvent.objects.filter(
        event_type__in=ROW_CHANGE_TYPES, payload__table=Post._meta.db_table, payload__id__in=post_ids
    )

    def settled() -> bool:
        return events.count() == len(post_ids) and not events.filter(indexed_at__isnull=True).exists()

    wait_until(settled, timeout=30, message="the posts' changes indexed")
    return post_ids, list(events.order_by("id").values_list("id", flat=True))


def test_one_task_indexes_the_pending_backlog_with_its_own_events():
    post_ids, event_ids = _indexed_posts([f"backlog {i}" for i in range(6)])
    OutboxEvent.objects.filter(id__in=event_ids).update(indexed_at=None)  # as if their tasks were still queued

    targets = project_events(event_ids[:1], also_pending=1000)

    assert set(post_ids) <= targets.ids["posts"], "the other pending events were taken along"
    assert not OutboxEvent.objects.filter(id__in=event_ids, indexed_at__isnull=True).exists()
    alone = project_events(event_ids[:1])
    assert not alone.ids, "without also_pending a task projects only its own (here: already indexed) events"


def test_a_poison_event_in_the_backlog_does_not_stop_the_tasks_own_events(monkeypatch):
    post_ids, event_ids = _indexed_posts(["poison", "neighbour"])
    poison_post, own_post = post_ids
    poison_event, own_event = event_ids
    # Fault injection in our own code: this one document cannot be projected (as a data bug would).
    real_project_and_index = event_projection.project_and_index

    def failing_for_the_poison(index_name, ids):
        if index_name == "posts" and poison_post in ids:
            raise ValueError(f"cannot project post {poison_post}")
        return real_project_and_index(index_name, ids)

    monkeypatch.setattr(event_projection, "project_and_index", failing_for_the_poison)
    OutboxEvent.objects.filter(id__in=event_ids).update(indexed_at=None)

    targets = event_projection.project_with_backlog([own_event])

    assert targets.ids["posts"] == {own_post}, "the fallback projected the task's own events alone"
    assert OutboxEvent.objects.get(pk=own_event).indexed_at is not None
    assert OutboxEvent.objects.get(pk=poison_event).indexed_at is None, (
        "left to its own task: retries, then a dead letter"
    )
    monkeypatch.undo()
    assert set(event_projection.project_events([poison_event]).ids["posts"]) == {poison_post}  # healed: indexes again
