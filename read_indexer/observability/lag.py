"""Commit-to-indexed lag: recorded per event by the worker, read by operators (pipeline_status)."""

from __future__ import annotations

import time
from datetime import datetime

from django_redis import get_redis_connection
from prometheus_client import Histogram

LAG_SAMPLES_KEY = "pipeline:lag:samples"
MAX_SAMPLES = 5000

INDEXING_LAG = Histogram(
    "pipeline_commit_to_indexed_seconds",
    "Seconds from a write's commit to its document being indexed",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)


def record(occurred_at: list[datetime]) -> None:
    if not occurred_at:
        return
    now = time.time()
    samples = [max(0.0, now - ts.timestamp()) for ts in occurred_at]
    for sample in samples:
        INDEXING_LAG.observe(sample)
    redis = get_redis_connection("default")
    with redis.pipeline(transaction=False) as pipe:
        pipe.lpush(LAG_SAMPLES_KEY, *(f"{now:.3f}:{s:.4f}" for s in samples))
        pipe.ltrim(LAG_SAMPLES_KEY, 0, MAX_SAMPLES - 1)
        pipe.execute()


def percentiles(window_seconds: float = 300) -> dict:
    """p50/p99 over the samples of the last `window_seconds` (None when idle)."""
    now = time.time()
    raw = get_redis_connection("default").lrange(LAG_SAMPLES_KEY, 0, MAX_SAMPLES - 1)
    values = sorted(
        float(lag) for at, lag in (item.decode().split(":") for item in raw) if now - float(at) <= window_seconds
    )
    if not values:
        return {"samples": 0, "p50": None, "p99": None, "max": None}

    def pick(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 3)

    return {"samples": len(values), "p50": pick(0.50), "p99": pick(0.99), "max": round(values[-1], 3)}
