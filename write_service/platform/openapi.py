"""What drf-spectacular cannot see in the views: the headers every write accepts and answers with."""

from __future__ import annotations

from shared.consistency import STATUS_HEADER, TOKEN_HEADER
from write_service.platform.consistency import PREFERENCE_APPLIED_HEADER

WRITE_METHODS = ("post", "put", "patch", "delete")
_PREFER = {
    "name": "Prefer",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "example": "wait-for=indexed; max=2"},
    "description": "`wait-for=indexed` answers only once the change is searchable through the search API "
    "(its counters and fan-outs included), waiting at most CONSISTENCY_WAIT_SECONDS (5 s by default) or `max` "
    "seconds if shorter (never more than CONSISTENCY_WAIT_MAX_SECONDS, 10 s by default). The write is committed "
    "either way: past the bound the answer is the same success with Consistency-Status: pending.",
}
_HEADERS = {
    TOKEN_HEADER: {
        "description": "Opaque and signed: send it to any search API read (header Consistency-Token or "
        "parameter consistency_token) to get an answer that reflects this write.",
        "schema": {"type": "string"},
    },
    PREFERENCE_APPLIED_HEADER: {
        "description": "`wait-for=indexed` when the request preferred it.",
        "schema": {"type": "string"},
    },
    STATUS_HEADER: {
        "description": "With Prefer: wait-for=indexed only: `reflected` (searchable now) or `pending` "
        "(committed, not yet searchable when the bound passed).",
        "schema": {"type": "string", "enum": ["reflected", "pending"]},
    },
}


def consistency_headers(result, generator, request, public):
    """POSTPROCESSING_HOOKS entry: Prefer on every write, and its headers on every success."""
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in WRITE_METHODS:
                continue
            operation.setdefault("parameters", []).append(_PREFER)
            for code, response in operation.get("responses", {}).items():
                if code.startswith("2"):
                    response.setdefault("headers", {}).update(_HEADERS)
    return result
