"""Per-request timing buckets (db, cache, es, redis...) for the Server-Timing header, shared by
both services: each request starts its own buckets; code anywhere adds to them."""

from __future__ import annotations

import contextvars
import time
from contextlib import contextmanager

_buckets: contextvars.ContextVar[dict[str, list[float]] | None] = contextvars.ContextVar("request_timing", default=None)


def start_request() -> dict[str, list[float]]:
    buckets: dict[str, list[float]] = {}
    _buckets.set(buckets)
    return buckets


def add(bucket: str, seconds: float) -> None:
    buckets = _buckets.get()
    if buckets is not None:
        entry = buckets.setdefault(bucket, [0.0, 0])
        entry[0] += seconds
        entry[1] += 1


@contextmanager
def timed(bucket: str):
    started = time.perf_counter()
    try:
        yield
    finally:
        add(bucket, time.perf_counter() - started)


def server_timing_header(buckets: dict[str, list[float]], total_seconds: float) -> str:
    parts = [f'{name};dur={seconds * 1000:.1f};desc="{count} calls"' for name, (seconds, count) in buckets.items()]
    parts.append(f"total;dur={total_seconds * 1000:.1f}")
    return ", ".join(parts)
