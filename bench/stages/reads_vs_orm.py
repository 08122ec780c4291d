"""Stage `reads`: the search API's lists against the Django ORM baseline (bench/orm_baseline/), the
same page compared row by row first, then each under wrk at the scale's read connections."""

from __future__ import annotations

import requests

from bench import database, namespace
from bench.loadgen import Request
from bench.stages.context import StageContext, auth_header, measure
from bench.stages.read_scenarios import read_scenarios, scenario_path


def _parity(scenario: dict) -> dict:
    """Both services must serve the same page: same ids in the same order, same derived metrics."""
    api = requests.get(
        namespace.url(namespace.SEARCH_PORT) + scenario_path(scenario, "api"),
        headers=auth_header(scenario["token"]),
        timeout=30,
    )
    orm = requests.get(
        namespace.url(namespace.ORM_PORT) + scenario_path(scenario, "orm"),
        headers=auth_header(scenario["token"]),
        timeout=30,
    )
    if api.status_code != 200 or orm.status_code != 200:
        return {
            "same_page": False,
            "detail": f"status api={api.status_code} orm={orm.status_code}: {api.text[:200]} {orm.text[:200]}",
        }
    a, o = api.json(), orm.json()
    keys = ("attempt_id", "rank", "qualified", "score")
    rows_a = [
        tuple(r[k] for k in keys) + (round(r["percentile"], 6) if r["percentile"] is not None else None,)
        for r in a["results"]
    ]
    rows_o = [
        tuple(r[k] for k in keys) + (round(r["percentile"], 6) if r["percentile"] is not None else None,)
        for r in o["results"]
    ]
    counts_agree = (a["count"] == o["count"]) or (a.get("count_is_lower_bound") and o["count"] >= a["count"])
    return {
        "same_page": rows_a == rows_o and counts_agree,
        "api_count": a["count"],
        "api_count_is_lower_bound": a.get("count_is_lower_bound", False),
        "orm_count": o["count"],
        "rows": len(rows_a),
        "detail": "" if rows_a == rows_o else _first_difference(rows_a, rows_o),
    }


def _first_difference(a: list, b: list) -> str:
    for x, y in zip(a, b, strict=False):
        if x != y:
            return f"first difference: api {x} vs orm {y}"
    return f"lengths differ: api {len(a)} rows, orm {len(b)} rows"


def run(ctx: StageContext) -> None:
    figures: dict = {"connections": ctx.scale.read_connections, "scenarios": {}}
    c = ctx.scale.read_connections
    for s in read_scenarios(ctx):
        parity = _parity(s)
        before = database.statements_snapshot()
        api = measure(
            f"search API {s['name']}",
            namespace.SEARCH_PORT,
            [Request("GET", scenario_path(s, "api"), auth_header(s["token"]))],
            c,
            ctx,
        )
        middle = database.statements_snapshot()
        replica_before = database.statements_snapshot(replica=True)
        orm = measure(
            f"ORM baseline {s['name']}",
            namespace.ORM_PORT,
            [Request("GET", scenario_path(s, "orm"), auth_header(s["token"]))],
            c,
            ctx,
        )
        replica_after = database.statements_snapshot(replica=True)
        figures["scenarios"][s["name"]] = {
            "what": s["what"],
            "api_path": scenario_path(s, "api"),
            "orm_path": scenario_path(s, "orm"),
            "matches": parity.get("orm_count"),
            "parity": parity,
            "api": api,
            "orm": orm,
            "throughput_ratio": round(api["rps"] / orm["rps"], 2) if orm["rps"] else None,
            "p95_ratio": round(api["p95_ms"] / orm["p95_ms"], 3) if orm["p95_ms"] else None,
            "sql_during_api_run": database.statements_delta(before, middle, top=3),
            "sql_during_orm_run_on_replica": database.statements_delta(replica_before, replica_after, top=4),
        }
    ctx.figures["reads"] = figures
