"""The one middleware: request id, Server-Timing, metrics hook, the access log line, and every
error as JSON.

One log line per request (`http.access`): what the view binds to the request's structlog context
(the list, Elasticsearch's took, the count) is written on it, not on a line of its own (each line
costs ~0.1 ms of the hot path's CPU).

Errors raised by views (ApiError) become their contract response; an unreachable Redis or
Elasticsearch becomes a 503 with Retry-After; anything unexpected is logged with its traceback
and answered with a generic JSON 500: the client never sees a traceback.
"""

from __future__ import annotations

import re
import time
import traceback
import uuid

import structlog
from django.conf import settings
from django.core.exceptions import SuspiciousOperation, TooManyFieldsSent
from django_redis.exceptions import ConnectionInterrupted
from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError as EsTransportError
from redis.exceptions import RedisError

from search_api import metrics
from search_api.errors import ApiError, BadRequest, SearchUnavailable
from search_api.responses import error_response, json_response
from shared import request_timing as timing
from shared.request_metrics import route_of

log = structlog.get_logger("search_api.request")
access_log = structlog.get_logger("search_api.access")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The documented 414 (OpenAPI): request lines over this many bytes are refused before any parsing,
# authentication or rate limit (Gunicorn's limit_request_line, which Granian does not enforce).
MAX_REQUEST_LINE = 4094


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        buckets = timing.start_request()
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            if len(request.method) + len(request.get_full_path()) + len(" ?  HTTP/1.1") > MAX_REQUEST_LINE:
                response = json_response(
                    {"errors": {"detail": [f"Request line longer than {MAX_REQUEST_LINE} bytes."]}}, status=414
                )
            else:
                response = self.get_response(request)
            total = time.perf_counter() - started
            response["Server-Timing"] = timing.server_timing_header(buckets, total)
            response["X-Request-ID"] = request_id
            size = None if response.streaming else len(response.content)
            if size is not None:
                # A known length: the server writes the body without chunked framing (NGINX need
                # not de-chunk it either).
                response["Content-Length"] = str(size)
            metrics.observe_request(
                route=route_of(request),
                method=request.method,
                status=response.status_code,
                seconds=total,
                es_seconds=buckets.get("es", [0.0])[0],
            )
            # The server (Granian, search_api/server.py) writes none: this is the access log.
            meta = request.META
            access_log.info(
                "http.access",
                service=metrics.SERVICE,
                remote=meta.get("REMOTE_ADDR", ""),
                method=request.method,
                path=request.path,
                query=meta.get("QUERY_STRING", ""),
                status=response.status_code,
                bytes=size,
                duration_ms=round(total * 1000, 2),
                user_agent=meta.get("HTTP_USER_AGENT", ""),
            )
            return response
        finally:
            structlog.contextvars.clear_contextvars()

    def process_exception(self, request, exception):
        return response_for_exception(exception)


def response_for_exception(exception: Exception):
    if isinstance(exception, ApiError):
        return error_response(exception)
    if isinstance(exception, SuspiciousOperation):  # too many parameters, a disallowed Host, ...
        log.warning("search.suspicious_request", error=type(exception).__name__, detail=str(exception)[:300])
        message = (
            f"Too many query parameters (at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS})."
            if isinstance(exception, TooManyFieldsSent)
            else "Bad request."
        )
        return error_response(BadRequest(message))
    if isinstance(exception, EsApiError):
        # Validation should make this unreachable; if Elasticsearch still rejects a query, the
        # client gets a 400 and we get the reason in the log (never the other way round).
        log.warning(
            "search.es_rejected", status=exception.meta.status, error=str(exception)[:300], cause=_es_cause(exception)
        )
        if exception.meta.status == 400:
            return error_response(BadRequest("The search could not be run with these parameters."))
        return error_response(SearchUnavailable())
    if isinstance(exception, (EsTransportError, RedisError, ConnectionInterrupted)):
        log.warning("search.backend_unavailable", error=type(exception).__name__, detail=str(exception)[:300])
        return error_response(SearchUnavailable())
    # The traceback goes to the log as text (the JSON renderer would drop exc_info), never to the client.
    log.error(
        "search.unhandled_error",
        error=repr(exception)[:300],
        traceback="".join(traceback.format_exception(exception))[-8000:],
    )
    return json_response({"errors": {"detail": ["Internal server error."]}}, status=500)


def _es_cause(exception: EsApiError) -> str:
    """Elasticsearch's own reasons (an unavailable shard, a bad field), which str() leaves out."""
    error = exception.body.get("error") if isinstance(exception.body, dict) else None
    if not isinstance(error, dict):
        return str(error or exception.body)[:500]
    causes = error.get("root_cause") or [error]
    return "; ".join(f"{c.get('type')}: {c.get('reason')}" for c in causes[:3] if isinstance(c, dict))[:500]
