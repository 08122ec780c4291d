"""Request middleware: query monitoring with Server-Timing, body size limit."""

from __future__ import annotations

import time
from contextlib import ExitStack

import structlog
from django.conf import settings
from django.db import connections
from django.http import JsonResponse

from shared import request_timing as timing

log = structlog.get_logger("write_service.sql")


class _QueryMonitor:
    """An execute_wrapper that times every SQL statement and logs the slow ones, structured."""

    def __init__(self, alias: str):
        self.alias = alias

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            timing.add("db", elapsed)
            if elapsed * 1000 >= settings.SLOW_QUERY_MS:
                log.warning("sql.slow", alias=self.alias, ms=round(elapsed * 1000, 1), sql=sql[:2000])


class ServerTimingMiddleware:
    """Counts SQL queries and time per request; `Server-Timing: db, cache, total` for devtools."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        buckets = timing.start_request()
        started = time.perf_counter()
        with ExitStack() as stack:
            for alias in connections:
                stack.enter_context(connections[alias].execute_wrapper(_QueryMonitor(alias)))
            response = self.get_response(request)
        response["Server-Timing"] = timing.server_timing_header(buckets, time.perf_counter() - started)
        return response


class RequestSizeLimitMiddleware:
    """413 before any parsing (DRF parsers stream the body past Django's own size check)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"errors": {"detail": ["Malformed Content-Length header."]}}, status=400)
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            return JsonResponse({"errors": {"detail": [f"Request body larger than {limit} bytes."]}}, status=413)
        return self.get_response(request)
