"""Prometheus metrics of the read API: the one place they will live.

The middleware calls `observe_request` once per request with everything a histogram needs; it
records nothing yet (the metrics issue adds prometheus_client collectors here, in multiprocess
mode: stack/apps.sh already sets PROMETHEUS_MULTIPROC_DIR, and gunicorn.conf.py's child_exit
cleans up after dead workers).
"""
from __future__ import annotations


def observe_request(*, endpoint: str, status: int, seconds: float, es_seconds: float) -> None:
    return None
