"""Runs under search_api's settings (a separate process: that service has no database): builds the
exact Elasticsearch requests the search API sends for given list requests, with the API's own
code (auth, parse_params, build_search, leaderboard_scope, filter_path), and profiles the API's
Python side in-process with cProfile.

Input (stdin, JSON): {"scenarios": [{"name", "list": "attempts"|"leaderboard", "params": {...},
"token", "assessment_id"?}], "profile": {"name", "requests"}?}
Output (stdout, last line, JSON): {"requests": {name: {"method", "path", "content_type", "body"}},
"profile": {...}}
"""
from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import sys
import time

os.environ["DJANGO_SETTINGS_MODULE"] = "search_api.settings"

import django  # noqa: E402

django.setup()

from search_api import auth, lists, selectors  # noqa: E402
from search_api.filtering import parse_params  # noqa: E402
from search_api.query_builder import build_search  # noqa: E402

SCHEMAS = {"attempts": lists.ATTEMPT_LIST, "leaderboard": lists.LEADERBOARD}


def _ndjson(lines: list[dict]) -> str:
    return "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)


def es_request(scenario: dict) -> dict:
    schema = SCHEMAS[scenario["list"]]
    principal = auth._from_token(scenario["token"])
    query = parse_params(schema, [(k, [str(v)]) for k, v in scenario["params"].items()])
    scope = (selectors.leaderboard_scope(int(scenario["assessment_id"]), principal)
             if scenario["list"] == "leaderboard" else None)
    body = build_search(schema, query, visibility=schema.visibility(principal),
                        scope_filters=scope.filters if scope else ())
    if scope is None:
        return {"method": "POST", "path": f"/{schema.index.alias}/_search?filter_path={selectors.SEARCH_FILTER_PATH}",
                "content_type": "application/json", "body": json.dumps(body, separators=(",", ":")),
                "query_body": body}
    lines = [{"index": scope.parent_index.alias}, scope.parent_query, {"index": schema.index.alias}, body]
    return {"method": "POST", "path": f"/_msearch?filter_path={selectors.MSEARCH_FILTER_PATH}",
            "content_type": "application/x-ndjson", "body": _ndjson(lines), "query_body": body}


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
            stats.stats.items(), key=lambda item: item[1][3], reverse=True):
        short = f"{os.path.relpath(filename) if filename.startswith('/') else filename}:{line}({name})"
        if any(skip in short for skip in ("<frozen", "{built-in method builtins.exec}")):
            continue
        rows.append({"function": short[-110:], "calls_per_request": round(calls / requests, 2),
                     "cum_ms_per_request": round(cumtime * 1000 / requests, 3),
                     "self_ms_per_request": round(tottime * 1000 / requests, 3)})
        if len(rows) >= 25:
            break
    # The request's parts, by function (cumulative ms per request; nested parts overlap).
    parts = {
        "whole request (Django handler)": ("django/core/handlers/base.py", "get_response"),
        "authenticate and rate limit (Redis: token + count, user)": ("search_api/admission.py", "admit"),
        "parse_params": ("search_api/filtering.py", "parse_params"),
        "build_search": ("search_api/query_builder.py", "build_search"),
        "Elasticsearch call (client + wait)": ("search_api/selectors.py", "_execute"),
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
        total = sum(v[3] for (filename, _line, name), v in stats.stats.items() if name == func and file_part in filename)
        breakdown[label] = round(total * 1000 / requests, 3)
    return {"path": path, "requests": requests, "ms_per_request_in_process": round(elapsed * 1000 / requests, 3),
            "breakdown_ms_per_request": breakdown, "top_cumulative": rows[:12]}


def main() -> None:
    spec = json.load(sys.stdin)
    out = {"requests": {s["name"]: es_request(s) for s in spec["scenarios"]}}
    if spec.get("profile"):
        p = spec["profile"]
        out["profile"] = profile(p["path"], p["token"], p["requests"])
    sys.stdout.write("\n" + json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
