"""The four read scenarios of the read stages: two lists (leaderboard, attempts), each broad and
selective, with the token that reads them and their paths on the search API and the ORM baseline."""

from __future__ import annotations

from urllib.parse import urlencode

from bench import seed
from bench.stages.context import StageContext


def read_scenarios(ctx: StageContext) -> list[dict]:
    """Built once per run (the reads and raw_es stages measure the same ones)."""
    if ctx.read_scenarios is None:
        ctx.read_scenarios = _build(ctx)
    return ctx.read_scenarios


def _build(ctx: StageContext) -> list[dict]:
    info = ctx.info
    top = info.top_assessment
    threshold = seed.score_threshold_for(top, 300)
    selective_id, selective_qualified = seed.selective_assessment(info)
    reader, staff = info.tokens["candidate_reader"], info.tokens["big_org_staff"]
    return [
        {
            "name": "leaderboard_broad",
            "list": "leaderboard",
            "assessment_id": top,
            "params": {},
            "token": reader,
            "api": f"/search/v1/assessments/{top}/leaderboard",
            "orm": f"/bench/orm/assessments/{top}/leaderboard",
            "what": f"leaderboard of the most-taken assessment ({info.top_assessment_submitted} submitted), rank order",
        },
        {
            "name": "leaderboard_selective",
            "list": "leaderboard",
            "assessment_id": top,
            "params": {"score__gte": threshold},
            "token": reader,
            "api": f"/search/v1/assessments/{top}/leaderboard",
            "orm": f"/bench/orm/assessments/{top}/leaderboard",
            "what": f"same leaderboard, score__gte={threshold} (about 300 rows)",
        },
        {
            "name": "attempts_broad",
            "list": "attempts",
            "params": {"status": "submitted", "ordering": "-submitted_at"},
            "token": staff,
            "api": "/search/v1/attempts",
            "orm": "/bench/orm/attempts",
            "what": "staff of the big organisation: its submitted attempts, newest first",
        },
        {
            "name": "attempts_selective",
            "list": "attempts",
            "params": {"assessment": selective_id, "qualified": "true", "ordering": "-score"},
            "token": staff,
            "api": "/search/v1/attempts",
            "orm": "/bench/orm/attempts",
            "what": f"same staff: qualified attempts of assessment {selective_id} ({selective_qualified}), best first",
        },
    ]


def scenario_path(scenario: dict, key: str) -> str:
    query = urlencode(scenario["params"])
    return scenario[key] + (f"?{query}" if query else "")
