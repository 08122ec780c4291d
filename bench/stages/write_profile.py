"""cProfile of the write path in this process, capture on and off."""

from __future__ import annotations

import time

from django.db import connections

from bench import database
from bench.stages.context import StageContext


def profile_write_path(ctx: StageContext, requests_per_mode: int = 100) -> dict:
    """cProfile of POST /api/v1/posts in this process (Django test client, real PostgreSQL, Redis),
    capture on and off (the triggers, database.capture_disabled): where capture's extra time goes
    on the write path. The triggers run inside the INSERT's execute (the outbox row) and the
    commit (NOTIFY is delivered there)."""
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {ctx.info.writer_tokens[0]}")
    body = {"title": "Profiled post", "body": "Measuring the write path.", "tags": ["bench"]}
    out = {}
    for mode in database.CAPTURE_MODES:
        with database.capture_mode(mode):
            connections.close_all()  # a fresh connection either way: same setup cost in both modes
            for _ in range(5):
                client.post("/api/v1/posts", body, content_type="application/json")
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            for _ in range(requests_per_mode):
                response = client.post("/api/v1/posts", body, content_type="application/json")
            profiler.disable()
            elapsed = time.perf_counter() - started
            connections.close_all()
        assert response.status_code == 201, response.content[:300]
        stats = pstats.Stats(profiler).stats
        interesting = ("_create", "execute", "_execute", "commit", "post_create", "authenticate", "save")
        rows = []
        for (filename, line, name), (_cc, calls, _tottime, cumtime, _callers) in stats.items():
            if name in interesting and ("site-packages" not in filename or name in ("execute", "commit")):
                rows.append(
                    {
                        "function": f"{filename.split('/')[-2]}/{filename.split('/')[-1]}:{line}({name})",
                        "calls_per_request": round(calls / requests_per_mode, 2),
                        "cum_ms_per_request": round(cumtime * 1000 / requests_per_mode, 3),
                    }
                )
        rows.sort(key=lambda r: -r["cum_ms_per_request"])
        out[mode] = {
            "requests": requests_per_mode,
            "ms_per_request_in_process": round(elapsed * 1000 / requests_per_mode, 3),
            "functions": rows[:12],
        }
    out["difference_ms_per_request"] = round(
        out["capture_on"]["ms_per_request_in_process"] - out["capture_off"]["ms_per_request_in_process"], 3
    )
    return out
