"""Prometheus metrics of the read API: request latency and Elasticsearch time per route, `/search/metrics`.

Same names and labels as write_service's request metrics (with service="search"), so one dashboard
shows both services. Multiprocess mode under Gunicorn: each worker writes its samples to files in
PROMETHEUS_MULTIPROC_DIR and the view sums them; gunicorn's child_exit (shared/gunicorn_common.py)
retires dead workers. Without the variable, the process's own registry is served.
May touch: nothing outside this process (no Redis, no Elasticsearch at scrape time).
"""
from __future__ import annotations

import os

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

SERVICE = "search"
# From "served from the page cache" (5 ms) to the Elasticsearch request timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds", "Time from the first middleware to the response, per route",
    ["service", "route", "method", "status"], buckets=LATENCY_BUCKETS,
)
REQUEST_SEARCH_SECONDS = Histogram(
    "http_request_search_seconds", "Total Elasticsearch time of one request, per route",
    ["service", "route", "method"], buckets=LATENCY_BUCKETS,
)


def observe_request(*, route: str, method: str, status: int, seconds: float, es_seconds: float) -> None:
    REQUEST_LATENCY.labels(SERVICE, route, method, str(status)).observe(seconds)
    REQUEST_SEARCH_SECONDS.labels(SERVICE, route, method).observe(es_seconds)


def metrics_view(request):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
