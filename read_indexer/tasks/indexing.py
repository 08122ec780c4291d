"""Queue `indexing`: re-project the documents of captured changes."""

from __future__ import annotations

from celery import shared_task

from read_indexer import task_names
from read_indexer.projection import event_projection
from read_indexer.tasks.fanout import fan_out_task
from read_indexer.tasks.retry_policy import RETRYING


@shared_task(name=task_names.PROJECT_EVENTS, bind=True, **RETRYING)
def project_events_task(self, event_ids: list[int]) -> dict:
    try:
        targets = event_projection.project_with_backlog(event_ids)
    except Exception as exc:
        event_projection.record_failure(event_ids, f"{type(exc).__name__}: {exc}")
        raise
    if targets.fanout_event_ids:  # fast path; the relay re-sends a fan-out change until it is done
        fan_out_task.delay(targets.fanout_event_ids)
    return {"events": len(event_ids)}
