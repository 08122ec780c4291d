"""Which errors the write API answers with 503 + Retry-After (retry shortly, nothing was written)
and which stay a 500: a write refused as read-only by a node changing role is the former."""

from __future__ import annotations

import pytest
from django.db import InternalError, OperationalError
from psycopg2.errors import ReadOnlySqlTransaction

from write_service.platform.errors import api_exception_handler

pytestmark = pytest.mark.fast


def _wrapped(django_error: type[Exception], cause: Exception) -> Exception:
    error = django_error(str(cause))
    error.__cause__ = cause  # how Django's database wrapper raises a driver error
    return error


def test_a_write_refused_as_read_only_during_a_role_change_is_a_503():
    exc = _wrapped(InternalError, ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"))
    response = api_exception_handler(exc, {})
    assert response.status_code == 503 and response["Retry-After"] == "1"


def test_a_lost_connection_is_a_503():
    response = api_exception_handler(OperationalError("server closed the connection unexpectedly"), {})
    assert response.status_code == 503


def test_any_other_internal_error_is_not_dressed_up_as_unavailable():
    assert api_exception_handler(InternalError("something else"), {}) is None  # DRF lets it become a 500
