"""Prometheus metrics of the read API: request latency and Elasticsearch time per route, `/search/metrics`.

Request latency is the shared histogram of shared/request_metrics.py (service="search").
May touch: nothing outside this process (no Redis, no Elasticsearch at scrape time).
"""

from __future__ import annotations

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest

from shared.request_metrics import LATENCY_BUCKETS, REQUEST_LATENCY, process_samples

SERVICE = "search"
REQUEST_SEARCH_SECONDS = Histogram(
    "http_request_search_seconds",
    "Total Elasticsearch time of one request, per route",
    ["service", "route", "method"],
    buckets=LATENCY_BUCKETS,
)


def observe_request(*, route: str, method: str, status: int, seconds: float, es_seconds: float) -> None:
    REQUEST_LATENCY.labels(SERVICE, route, method, str(status)).observe(seconds)
    REQUEST_SEARCH_SECONDS.labels(SERVICE, route, method).observe(es_seconds)


def metrics_view(request):
    return HttpResponse(generate_latest(process_samples()), content_type=CONTENT_TYPE_LATEST)
