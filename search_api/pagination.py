"""Opaque, signed cursors over `search_after`.

A cursor carries the sort values of the last row served and the fingerprint of the query it
belongs to (list, scope, filters, q, ordering), signed with an HMAC of SECRET_KEY under our own
salt. A forged, truncated or foreign cursor, or one replayed with other parameters, is a 400.
It carries no visibility: every page is filtered again for the caller.
"""

from __future__ import annotations

import math

from django.core import signing

from search_api.filtering import InvalidValue

CURSOR_SALT = "search_api.cursor.v1"
MAX_CURSOR_LENGTH = 1000
# Elasticsearch reports a missing double sort value as +/-Infinity (a string in JSON).
_INFINITIES = ("Infinity", "-Infinity")


def encode_cursor(fingerprint: str, sort_values: list) -> str:
    return signing.dumps({"f": fingerprint, "a": sort_values}, salt=CURSOR_SALT, compress=True)


def decode_cursor(raw: str, *, fingerprint: str, sort_length: int) -> list:
    if len(raw) > MAX_CURSOR_LENGTH:
        raise InvalidValue("Invalid cursor: too long.")
    try:
        payload = signing.loads(raw, salt=CURSOR_SALT)
    except (signing.BadSignature, ValueError, UnicodeError):
        raise InvalidValue("Invalid cursor: use the `next` link of a previous page.") from None
    if not isinstance(payload, dict) or payload.get("f") != fingerprint:
        raise InvalidValue(
            "This cursor belongs to other parameters (filters, q or ordering); start from the first page."
        )
    values = payload.get("a")
    if not isinstance(values, list) or len(values) != sort_length or not all(map(_valid_sort_value, values)):
        raise InvalidValue("Invalid cursor.")
    return values


def _valid_sort_value(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or value in _INFINITIES or isinstance(value, str)


def next_url(request, cursor: str) -> str:
    params = request.GET.copy()
    params["cursor"] = cursor
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
