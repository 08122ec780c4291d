"""Prometheus request metrics common to both services, and the per-process registry to serve.

Same names and labels in write_service and search_api (`service` tells them apart), so one
dashboard shows both. Multiprocess mode under Gunicorn: each worker writes its samples to files in
PROMETHEUS_MULTIPROC_DIR and `process_samples()` sums them; gunicorn's child_exit
(write_service/gunicorn.conf.py) retires dead workers. Without the variable (runserver, in-process
tests), the process's own default registry is served.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

# Latency buckets from "a cached read" (5 ms) to Gunicorn's 30 s timeout.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the first middleware to the response, per route",
    ["service", "route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)


def route_of(request) -> str:
    # The URL pattern, never the raw path: ids in paths would make one series per object.
    match = getattr(request, "resolver_match", None)
    return match.route if match is not None and match.route else "unmatched"


def process_samples() -> CollectorRegistry:
    """Every worker process's samples (multiprocess mode), or this process's own registry."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


# Gauges computed from their source at each scrape, added by the apps that own them (read_indexer
# adds the pipeline's when its AppConfig is ready), so the service that serves /metrics need not
# import them.
_SCRAPE_TIME_COLLECTORS: list = []


def add_scrape_time_collector(collector) -> None:
    _SCRAPE_TIME_COLLECTORS.append(collector)


def scrape_time_collectors() -> list:
    return list(_SCRAPE_TIME_COLLECTORS)
