"""Queue `counters`: apply the counter deltas of captured changes, one batch per task."""

from __future__ import annotations

from celery import shared_task

from read_indexer import task_names
from read_indexer.capture import counters_flag
from read_indexer.tasks.retry_policy import RETRYING
from write_service.read_model import counters


@shared_task(name=task_names.APPLY_COUNTERS, bind=True, **RETRYING)
def apply_counters_task(self, limit: int = counters.BATCH_LIMIT, flag: str | None = None) -> dict:
    if flag:  # the flush the listener scheduled: clear its flag (only ours) before claiming
        counters_flag.clear(flag)
    batch = counters.apply_counters_batch(limit)
    if batch.more_pending:
        apply_counters_task.delay(limit)
    return {"claimed": batch.claimed}
