"""Domain errors raised by services, and the one place that turns any error into the contract's
JSON shape: {"errors": {"field": ["message", ...]}}."""

from __future__ import annotations

import structlog
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, InternalError, OperationalError
from django.http import Http404
from psycopg2.errors import ReadOnlySqlTransaction
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class ServiceError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, errors: dict[str, list[str]] | str):
        self.errors = errors if isinstance(errors, dict) else {"detail": [errors]}
        super().__init__(str(self.errors))


class ServiceValidationError(ServiceError):
    status_code = status.HTTP_400_BAD_REQUEST


class NotFound(ServiceError):
    """Also raised for other organisations' rows, so their existence never leaks."""

    status_code = status.HTTP_404_NOT_FOUND

    def __init__(self, what: str = "Not found."):
        super().__init__(what)


class Forbidden(ServiceError):
    status_code = status.HTTP_403_FORBIDDEN


class Conflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT


def _as_field_errors(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {str(field): _as_messages(messages) for field, messages in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": _as_messages(detail)}
    return {"detail": [str(detail)]}


def _as_messages(messages) -> list[str]:
    if isinstance(messages, dict):  # nested serializer: flatten as "child: message"
        return [f"{key}: {msg}" for key, value in messages.items() for msg in _as_messages(value)]
    if isinstance(messages, list):
        return [m for item in messages for m in _as_messages(item)]
    return [str(messages)]


log = structlog.get_logger(__name__)
# A dependency that is down (PostgreSQL restarting, Redis restarting) is a 503 the client can
# retry, with nothing half-written: the transaction either committed or rolled back.
UNAVAILABLE = (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError)


def is_unavailable(exc: Exception) -> bool:
    # A write that reaches a PostgreSQL node while it changes role (a primary stepping down in a
    # failover or switchover, HAProxy a moment behind Patroni) is refused as read-only: the same
    # retry-shortly case, with nothing written.
    return isinstance(exc, UNAVAILABLE) or (
        isinstance(exc, InternalError) and isinstance(exc.__cause__, ReadOnlySqlTransaction)
    )


def api_exception_handler(exc, context):
    if is_unavailable(exc):
        log.warning("dependency.unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
        response = Response({"errors": {"detail": ["A backing service is unavailable; retry shortly."]}}, status=503)
        response["Retry-After"] = "1"
        return response
    if isinstance(exc, ServiceError):
        return Response({"errors": exc.errors}, status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is not None:
        response.data = {
            "errors": _as_field_errors(exc.detail if isinstance(exc, exceptions.APIException) else response.data)
        }
    return response
