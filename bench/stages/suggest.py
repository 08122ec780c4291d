"""Stage `suggest`: search-as-you-type suggestions under wrk, keystroke by keystroke."""

from __future__ import annotations

from urllib.parse import urlencode

import requests

from bench import namespace
from bench.loadgen import Request
from bench.stages.context import StageContext, auth_header, measure

# Keystrokes of a few words of the seed's vocabulary (seed.WORDS), taken in turn by wrk's threads.
TYPING = ("gr", "gra", "grap", "graph", "graph qu", "graph que", "se", "sea", "sear", "pipeline st")


def run(ctx: StageContext) -> None:
    """GET {assessments,posts}/suggest at read_connections clients; posts as the largest
    organisation's staff (the most visible titles: the worst case)."""
    info, c = ctx.info, ctx.scale.read_connections
    figures: dict = {"connections": c, "prefixes": list(TYPING), "scenarios": {}}
    for name, token in (("assessments", info.tokens["candidate_reader"]), ("posts", info.tokens["big_org_staff"])):
        reqs = [
            Request("GET", f"/search/v1/{name}/suggest?{urlencode({'prefix': p})}", auth_header(token)) for p in TYPING
        ]
        probe = requests.get(
            namespace.url(namespace.SEARCH_PORT) + reqs[0].path, headers=auth_header(token), timeout=30
        )
        probe.raise_for_status()
        figures["scenarios"][name] = {
            "probe_results": len(probe.json()["results"]),
            "api": measure(f"search API suggest {name}", namespace.SEARCH_PORT, reqs, c, ctx),
        }
    ctx.figures["suggest"] = figures
