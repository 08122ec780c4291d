"""Stage `suggest`: search-as-you-type suggestions under wrk, keystroke by keystroke, beside the
raw replay of the Elasticsearch requests they send (the floor under the API's latency)."""

from __future__ import annotations

from urllib.parse import urlencode

import requests

from bench import namespace
from bench.loadgen import Request
from bench.stages.context import StageContext, auth_header, measure, run_json_process
from bench.stages.raw_es_replay import es_wrk_requests

# Keystrokes of a few words of the seed's vocabulary (seed.WORDS), taken in turn by wrk's threads.
TYPING = ("gr", "gra", "grap", "graph", "graph qu", "graph que", "se", "sea", "sear", "pipeline st")


def run(ctx: StageContext) -> None:
    """GET {assessments,posts}/suggest at read_connections clients; posts as the largest
    organisation's staff (the most visible titles: the worst case). Then the same keystrokes sent
    straight to Elasticsearch: each suggestion is one search, so wrk replays exactly the API's
    requests, and the difference is what the API adds."""
    info, c = ctx.info, ctx.scale.read_connections
    figures: dict = {"connections": c, "prefixes": list(TYPING), "scenarios": {}}
    for name, token in (("assessments", info.tokens["candidate_reader"]), ("posts", info.tokens["big_org_staff"])):
        paths = [f"/search/v1/{name}/suggest?{urlencode({'prefix': p})}" for p in TYPING]
        reqs = [Request("GET", path, auth_header(token)) for path in paths]
        probe = requests.get(
            namespace.url(namespace.SEARCH_PORT) + reqs[0].path, headers=auth_header(token), timeout=30
        )
        probe.raise_for_status()
        captured = run_json_process(
            "bench.es_bodies",
            {"scenarios": [{"name": path, "path": path, "token": token} for path in paths]},
            timeout=600,
        )["requests"]
        assert all(len(captured[path]) == 1 for path in paths), {path: len(captured[path]) for path in paths}
        raw_reqs = [request for path in paths for request in es_wrk_requests(captured[path])]
        api = measure(f"search API suggest {name}", namespace.SEARCH_PORT, reqs, c, ctx)
        raw = measure(f"raw Elasticsearch suggest {name}", namespace.ES_URL, raw_reqs, c, ctx)
        figures["scenarios"][name] = {
            "probe_results": len(probe.json()["results"]),
            "api": api,
            "raw_es": raw,
            "api_added_p95_ms": round(api["p95_ms"] - raw["p95_ms"], 2),
            "api_vs_raw_es_throughput": round(api["rps"] / raw["rps"], 3) if raw["rps"] else None,
        }
    ctx.figures["suggest"] = figures
