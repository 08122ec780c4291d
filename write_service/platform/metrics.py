"""Prometheus metrics of write_service: request latency and SQL time per route, and `/metrics`.

Multiprocess mode under Gunicorn: every worker process writes its samples to files in
PROMETHEUS_MULTIPROC_DIR (stack/apps.sh sets it per namespace, compose/ mounts a tmpfs), the
`/metrics` view sums them (MultiProcessCollector), and Gunicorn's child_exit hook
(write_service/gunicorn.conf.py) retires dead workers. Without the variable (runserver, in-process
tests) the process's own default registry is served.

Natively every process of a namespace (both Gunicorns, the Celery workers) shares one directory,
so every series carries `service` and this endpoint also shows the workers' task metrics.

Scrape-time gauges are computed on each scrape from the source of truth, not kept in files:
replica lag (this module), and those other installed apps add (shared.request_metrics): the
pipeline's outbox backlog, queue depths and indexing lag, added by read_indexer.
May touch: SQL timing hooks on every connection; per scrape, a few indexed SELECTs on both
aliases and a few Redis reads.
"""

from __future__ import annotations

import time
from contextlib import ExitStack

import structlog
from django.db import connections
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from shared.request_metrics import LATENCY_BUCKETS, REQUEST_LATENCY, process_samples, route_of, scrape_time_collectors

log = structlog.get_logger(__name__)
SERVICE = "write"

REQUEST_SQL_SECONDS = Histogram(
    "http_request_sql_seconds",
    "Total SQL time of one request, per route",
    ["service", "route", "method"],
    buckets=LATENCY_BUCKETS,
)
# The query count per request is what regresses first (an N+1); exact counts are tested, this
# shows them in production.
REQUEST_SQL_QUERIES = Histogram(
    "http_request_sql_queries",
    "SQL statements run by one request, per route",
    ["service", "route", "method"],
    buckets=(0, 1, 2, 3, 5, 8, 13, 21, 50, 100),
)
SQL_QUERIES = Counter("db_queries_total", "SQL statements run, per database alias", ["service", "alias"])


class _SqlTally:
    """An execute_wrapper per alias that sums the SQL time and count of one request."""

    def __init__(self):
        self.seconds = 0.0
        self.count = 0
        self.per_alias: dict[str, int] = {}

    def wrapper(self, alias: str):
        def timed(execute, sql, params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                self.seconds += time.perf_counter() - started
                self.count += 1
                self.per_alias[alias] = self.per_alias.get(alias, 0) + 1

        return timed


class RequestMetricsMiddleware:
    """First in MIDDLEWARE, so the latency covers every other middleware (and their 413s/400s)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        tally = _SqlTally()
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(tally.wrapper(alias)))
            response = self.get_response(request)
        elapsed = time.perf_counter() - started
        route, method = route_of(request), request.method
        REQUEST_LATENCY.labels(SERVICE, route, method, str(response.status_code)).observe(elapsed)
        REQUEST_SQL_SECONDS.labels(SERVICE, route, method).observe(tally.seconds)
        REQUEST_SQL_QUERIES.labels(SERVICE, route, method).observe(tally.count)
        for alias, count in tally.per_alias.items():
            SQL_QUERIES.labels(SERVICE, alias).inc(count)
        return response


class ReplicaLagCollector:
    """pg_replica_up and pg_replica_lag_seconds, from the same check as readiness."""

    def collect(self):
        from write_service.platform.health import replica_check

        replica = replica_check()
        up = GaugeMetricFamily("pg_replica_up", "1 when the replica alias answers as a standby")
        up.add_metric([], 1.0 if replica["ok"] else 0.0)
        yield up
        if replica["ok"]:
            lag = GaugeMetricFamily("pg_replica_lag_seconds", "Replay lag of the streaming replica (0 when caught up)")
            lag.add_metric([], replica["lag_seconds"])
            yield lag


def _scrape_time_collectors() -> list:
    # Replica lag is ours; the apps that own other gauges add theirs (the pipeline's: read_indexer).
    return [ReplicaLagCollector(), *scrape_time_collectors()]


def metrics_view(request):
    """Prometheus text exposition: all worker processes' samples plus the scrape-time gauges."""
    scrape = CollectorRegistry()  # no auto_describe: registering must not run the queries twice
    for collector in _scrape_time_collectors():
        scrape.register(collector)
    body = generate_latest(process_samples()) + generate_latest(scrape)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
