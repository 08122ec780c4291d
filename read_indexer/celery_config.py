"""Celery configuration of read_indexer: its workers, beat and the change listener (which sends).

Timing budget, kept consistent on purpose:
  task hard time limit 120 s  <  retry backoff cap 60 s + time limit  <  visibility timeout 900 s.
A task is redelivered by Redis only after the visibility timeout, so it must exceed the longest
countdown plus the longest run; the outbox relay covers lost tasks within seconds anyway.
"""

from __future__ import annotations

from kombu import Queue

from read_indexer.task_names import ALL_QUEUES, TASK_QUEUES
from shared.config import Config

TASK_SOFT_TIME_LIMIT = 100
TASK_TIME_LIMIT = 120
RETRY_BACKOFF_MAX = 60
MAX_RETRIES = 5
VISIBILITY_TIMEOUT = 900
DB_REUSE_TASKS = 10_000  # the fixup still closes connections every this many tasks (CONN_MAX_AGE bounds them sooner)


def celery_conf(config: Config) -> dict:
    return {
        "broker_url": config.broker_url,
        "broker_connection_retry_on_startup": True,
        # A publish happens after a write committed; if Redis is down, fail fast (the outbox relay
        # republishes) instead of holding the client's request for seconds.
        "task_publish_retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "socket_connect_timeout": 1,
            "socket_timeout": 5,
        },
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_ignore_result": True,
        "result_backend": None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_time_limit": TASK_TIME_LIMIT,
        "task_soft_time_limit": TASK_SOFT_TIME_LIMIT,
        "task_queues": [Queue(name) for name in ALL_QUEUES],
        "task_default_queue": "maintenance",
        "task_routes": {name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        # Celery's Django fixup closes every database connection before and after each task unless
        # this is set: a new pgBouncer login (SCRAM) per task, a quarter of an indexing task's CPU.
        # With it, read_indexer.celery_app applies Django's own rule at task boundaries instead
        # (close_old_connections: CONN_MAX_AGE, and a connection that failed is dropped).
        "CELERY_DB_REUSE_MAX": DB_REUSE_TASKS,
        "timezone": "UTC",
    }
