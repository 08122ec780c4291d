"""Prometheus metrics the pipeline records as it runs: Celery task rates, durations and failures
(from Celery's signals) and the drift sweep's repairs. The scrape-time gauges of the outbox backlog,
queue depths and indexing lag are read_indexer/operations/pipeline_gauges.py.

Where the numbers are served: tasks run in prefork pool children, so their samples go through
prometheus_client's multiprocess mode (files in PROMETHEUS_MULTIPROC_DIR, one per process).
- compose/: one worker per container with its own tmpfs directory and CELERY_METRICS_BIND set;
  the worker's main process serves them on that address (an HTTP thread that sums the files of
  its pool children on each scrape), so each container is one scrape target.
- native stack: stack/apps.sh gives every process of a namespace one directory, so write_service's
  /metrics already includes the workers' task metrics; no CELERY_METRICS_BIND, no extra port
  (two workers of a namespace would otherwise fight over one).
Importing this module connects the signal receivers (read_indexer/celery_app.py does).
May touch: process-local memory (task start times).
"""

from __future__ import annotations

import os
import time

import structlog
from celery.signals import task_failure, task_postrun, task_prerun, worker_init
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

log = structlog.get_logger(__name__)

# From a counter flush (milliseconds) to a bulk re-projection near the 100 s soft time limit.
TASK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

TASK_RUNS = Counter(
    "celery_task_runs_total",
    "Task executions by final state (SUCCESS, FAILURE, RETRY, ...)",
    ["task", "state"],
)
TASK_DURATION = Histogram(
    "celery_task_duration_seconds", "Wall time of one task execution", ["task"], buckets=TASK_BUCKETS
)
TASK_FAILURES = Counter(
    "celery_task_failures_total", "Task executions that raised, by exception type", ["task", "exception"]
)

# The drift sweep (read_indexer/capture/drift_sweep.py): any increase means a document went wrong behind
# the pipeline's back or through a bug; `unrepaired` needs an operator (verify, reindex).
DRIFT_REPAIRED = Counter(
    "pipeline_drift_repaired_total",
    "Drifted documents the drift sweep re-projected, by kind (missing, stale)",
    ["index", "kind"],
)
DRIFT_UNREPAIRED = Counter(
    "pipeline_drift_unrepaired_total",
    "Drifted documents the drift sweep must not or could not fix, once per pass that finds them, by kind "
    "(ahead, orphan, missing, stale)",
    ["index", "kind"],
)

# Start times by task id, in the pool process that runs the task (prerun and postrun both fire
# there). Popped in postrun, so it never holds more than the process's concurrent tasks.
_started: dict[str, float] = {}


@task_prerun.connect
def _task_started(task_id=None, **_kwargs):
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **_kwargs):
    started = _started.pop(task_id, None)
    name = getattr(task, "name", "unknown")
    TASK_RUNS.labels(name, state or "UNKNOWN").inc()
    if started is not None:
        TASK_DURATION.labels(name).observe(time.perf_counter() - started)


@task_failure.connect
def _task_failed(sender=None, exception=None, **_kwargs):
    TASK_FAILURES.labels(getattr(sender, "name", "unknown"), type(exception).__name__).inc()


@worker_init.connect
def _serve_worker_metrics(**_kwargs):
    """In the worker's main process, before the pool forks: serve /metrics if configured."""
    bind = os.environ.get("CELERY_METRICS_BIND", "").strip()
    if not bind:
        return
    host, _, port = bind.rpartition(":")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        # Without the directory the pool children's samples are lost: say so once, loudly.
        log.warning(
            "metrics.no_multiproc_dir", detail="PROMETHEUS_MULTIPROC_DIR is unset; only the main process is exported"
        )
        registry = REGISTRY
    start_http_server(int(port), addr=host or "0.0.0.0", registry=registry)
    log.info("metrics.serving", bind=bind)
