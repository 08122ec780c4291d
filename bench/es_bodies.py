"""Runs under search_api's settings (a separate process: that service has no database): captures
the exact Elasticsearch requests the search API sends for given list requests, and profiles the
API's Python side in-process with cProfile.

Capture: one GET through the whole Django stack (test client; Elasticsearch and Redis real), with
elastic_transport's Transport.perform_request wrapped so every request the API makes is recorded
(method, target with its query string, headers, the body serialised as the client serialises it),
in order. An attempts list or leaderboard now sends two: the page search (a `_search`, or the
leaderboard's `_msearch` with its visibility check) and the page-metrics `_msearch` (rank,
percentile, qualified of the page's rows); a rank/percentile/qualified filter or the qualified
facet adds threshold requests before the page.

Input (stdin, JSON): {"scenarios": [{"name", "path", "token"}], "profile": {"path", "token", "requests"}?}
Output (stdout, last line, JSON): {"requests": {name: [{"method", "path", "content_type", "accept", "body"}, ...]},
"query_body": {name: the page search's query body}, "profile": {...}}
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Mapping

os.environ["DJANGO_SETTINGS_MODULE"] = "search_api.settings"

import django  # noqa: E402

django.setup()

from elastic_transport import Transport  # noqa: E402


def capture(path: str, token: str) -> tuple[list[dict], dict | None]:
    """The Elasticsearch requests of one API GET, in the order sent, and the page search's body."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    warm = client.get(path)  # anything cached on a first call (auth) is cached for the recorded one
    assert warm.status_code == 200, warm.content[:500]
    recorded: list[dict] = []
    bodies: list = []
    original = Transport.perform_request

    def recording(self, method, target, *, body=None, headers=None, **kwargs):
        hdrs = {k.lower(): v for k, v in headers.items()} if isinstance(headers, Mapping) else {}
        content_type = hdrs.get("content-type", "application/json")
        raw = self.serializers.dumps(body, mimetype=content_type).decode() if body is not None else None
        recorded.append(
            {
                "method": method,
                "path": target,
                "content_type": content_type,
                "accept": hdrs.get("accept", "application/json"),
                "body": raw,
            }
        )
        bodies.append(body)
        return original(self, method, target, body=body, headers=headers, **kwargs)

    Transport.perform_request = recording
    try:
        response = client.get(path)
    finally:
        Transport.perform_request = original
    assert response.status_code == 200, response.content[:500]
    # The page search is the one request sent with a filter_path (selectors._execute); in an
    # msearch (header/body lines) its body is the last line.
    query_body = None
    for request, body in zip(recorded, bodies, strict=True):
        if "filter_path=" in request["path"]:
            query_body = body[-1] if isinstance(body, list) else body
            break
    return recorded, query_body


def profile(path: str, token: str, requests: int) -> dict:
    """cProfile over `requests` GETs through the whole Django stack (Elasticsearch and Redis real)."""
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    for _ in range(5):
        client.get(path)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(requests):
        response = client.get(path)
    profiler.disable()
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.content[:500]
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative")
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in sorted(
        stats.stats.items(), key=lambda item: item[1][3], reverse=True
    ):
        short = f"{os.path.relpath(filename) if filename.startswith('/') else filename}:{line}({name})"
        if any(skip in short for skip in ("<frozen", "{built-in method builtins.exec}")):
            continue
        rows.append(
            {
                "function": short[-110:],
                "calls_per_request": round(calls / requests, 2),
                "cum_ms_per_request": round(cumtime * 1000 / requests, 3),
                "self_ms_per_request": round(tottime * 1000 / requests, 3),
            }
        )
        if len(rows) >= 25:
            break
    # The request's parts, by function (cumulative ms per request; nested parts overlap).
    parts = {
        "whole request (Django handler)": ("django/core/handlers/base.py", "get_response"),
        "authenticate and rate limit (Redis: token + count, user)": ("search_api/admission.py", "admit"),
        "parse_params": ("search_api/filtering.py", "parse_params"),
        "build_search": ("search_api/query_builder.py", "build_search"),
        "page search (client + wait)": ("search_api/selectors.py", "_execute"),
        "derived metrics: threshold requests before the page": ("search_api/selectors.py", "prepare"),
        "derived metrics: page-metrics msearch and filling rows": ("search_api/selectors.py", "fill_rows"),
        "  of which waiting for the response": ("http/client.py", "getresponse"),
        "  of which client request serialisation": ("elastic_transport/_serializer.py", "dumps"),
        "  of which client response parsing": ("elastic_transport/_serializer.py", "loads"),
        "shape rows (_row)": ("search_api/selectors.py", "_row"),
        "next-page cursor": ("search_api/pagination.py", "encode_cursor"),
        "render JSON (json_response)": ("search_api/responses.py", "json_response"),
        "log lines (structlog)": ("structlog/_native.py", "meth"),
    }
    breakdown = {}
    for label, (file_part, func) in parts.items():
        total = sum(
            v[3] for (filename, _line, name), v in stats.stats.items() if name == func and file_part in filename
        )
        breakdown[label] = round(total * 1000 / requests, 3)
    return {
        "path": path,
        "requests": requests,
        "ms_per_request_in_process": round(elapsed * 1000 / requests, 3),
        "breakdown_ms_per_request": breakdown,
        "top_cumulative": rows[:12],
    }


def main() -> None:
    spec = json.load(sys.stdin)
    out: dict = {"requests": {}, "query_body": {}}
    for scenario in spec["scenarios"]:
        out["requests"][scenario["name"]], out["query_body"][scenario["name"]] = capture(
            scenario["path"], scenario["token"]
        )
    if spec.get("profile"):
        p = spec["profile"]
        out["profile"] = profile(p["path"], p["token"], p["requests"])
    sys.stdout.write("\n" + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
