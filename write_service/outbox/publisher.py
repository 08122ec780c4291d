"""Sends Celery tasks for committed events (fast path). Never raises: the relay is the slow path."""
from __future__ import annotations

import functools
import random
import uuid

import structlog
from celery import Celery
from django_redis import get_redis_connection

from shared import task_names
from shared.celery_config import celery_conf
from shared.config import load_config

log = structlog.get_logger(__name__)
COUNTERS_COALESCE_SECONDS = 0.5


@functools.cache
def celery_publisher() -> Celery:
    """A send-only Celery app: the write side never imports read_indexer code."""
    app = Celery("write_service_publisher")
    app.conf.update(celery_conf(load_config()))
    return app


def publish_event_ids(event_ids: list[int]) -> None:
    if not event_ids:
        return
    try:
        celery_publisher().send_task(task_names.PROJECT_EVENTS, args=[event_ids])
        schedule_counters_flush()
    except Exception as exc:  # broker down: the outbox relay republishes within seconds
        log.warning("outbox.publish_failed", event_ids=event_ids, error=str(exc))


def schedule_counters_flush() -> None:
    """At most one pending counters task at a time: a burst of events becomes one batch.

    The flag holds the token of the task it scheduled, and only that task clears it (just before
    it claims events), so an event committed after the claim schedules the next flush. Flushes
    from elsewhere (beat, the relay, a full batch) leave it alone: if any task could clear it,
    each would start one more self-renewing chain, and the flush rate would grow all day. A flag
    whose task was lost expires, and beat flushes regularly too.
    """
    redis = get_redis_connection("default")
    ttl_ms = int(COUNTERS_COALESCE_SECONDS * 1000) + 5000
    token = uuid.uuid4().hex
    if redis.set(task_names.COUNTERS_SCHEDULED_KEY, token, nx=True, px=ttl_ms):
        celery_publisher().send_task(
            task_names.APPLY_COUNTERS,
            kwargs={"flag": token},
            countdown=COUNTERS_COALESCE_SECONDS + random.uniform(0, 0.05),
            expires=600,
        )
