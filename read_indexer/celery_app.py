"""The Celery app of read_indexer: queues, reliability settings (read_indexer.celery_config), beat schedule.

Run: celery -A read_indexer.celery_app worker -Q indexing,counters,fanout,maintenance
     celery -A read_indexer.celery_app beat
"""

from __future__ import annotations

import os

import django
from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.base")
django.setup()

from read_indexer import task_names  # noqa: E402
from read_indexer.celery_config import celery_conf  # noqa: E402
from read_indexer.observability import metrics as _task_metrics  # noqa: E402,F401  (Celery signal receivers)
from shared.config import load_config  # noqa: E402

app = Celery("read_indexer")
config = load_config()
app.conf.update(celery_conf(config))
# One schedule whatever runs beat, on however many hosts: celery-redbeat keeps the schedule and
# each entry's last run in Redis, and only the beat holding its lock sends. A standby beat takes
# the lock once it expires (its holder died), and goes on from the last run recorded.
app.conf.beat_scheduler = "redbeat.RedBeatScheduler"
app.conf.redbeat_redis_url = config.broker_url
app.conf.redbeat_lock_timeout = 10
app.conf.beat_max_loop_interval = 1
# Periodic entries expire, so a backlog never piles up duplicates of the same sweep.
app.conf.beat_schedule = {
    "outbox-relay": {"task": task_names.OUTBOX_RELAY, "schedule": 2.0, "options": {"expires": 10}},
    "counters-flush": {"task": task_names.APPLY_COUNTERS, "schedule": 5.0, "options": {"expires": 10}},
    "counters-reconcile": {"task": task_names.RECONCILE_COUNTERS, "schedule": 60.0, "options": {"expires": 50}},
    "outbox-cleanup": {"task": task_names.OUTBOX_CLEANUP, "schedule": 3600.0, "options": {"expires": 600}},
    "drift-sweep": {"task": task_names.DRIFT_SWEEP, "schedule": 30.0, "options": {"expires": 25}},
}
app.autodiscover_tasks(["read_indexer"], related_name="tasks", force=True)


@worker_process_init.connect
def _fresh_connections_after_fork(**_kwargs):
    # Forked pool processes must not share the parent's database or HTTP sockets.
    from django.db import connections

    for connection in connections.all():
        connection.close_if_unusable_or_obsolete()
        connection.close()


@task_prerun.connect
@task_postrun.connect
def _recycle_connections(**_kwargs):
    # What Django does around each request: drop a connection past CONN_MAX_AGE or one that
    # failed, and health-check the next use (read_indexer.celery_config keeps the fixup from closing all).
    from django.db import close_old_connections

    close_old_connections()
