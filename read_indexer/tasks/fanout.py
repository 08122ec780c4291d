"""Queue `fanout`: re-project every child document a change reaches (its own worker: slow runs)."""

from __future__ import annotations

from celery import shared_task

from read_indexer import task_names
from read_indexer.projection import event_projection, fanout
from read_indexer.tasks.retry_policy import RETRYING


@shared_task(name=task_names.FAN_OUT, bind=True, **RETRYING)
def fan_out_task(self, event_ids: list[int]) -> dict:
    try:
        return {"written": fanout.fan_out(event_ids)}
    except Exception as exc:
        event_projection.record_failure(event_ids, f"{type(exc).__name__}: {exc}")
        raise
