"""Stage `raw_es`: the search API against the raw replay of its own Elasticsearch requests, the same
calls through the bench's NGINX and on bench/proxy_floor, at the read connections and at one client."""

from __future__ import annotations

from bench import namespace
from bench.loadgen import Request
from bench.stages.context import StageContext, auth_header, measure
from bench.stages.raw_es_replay import capture_es_requests, measure_raw_es
from bench.stages.read_scenarios import read_scenarios, scenario_path


def run(ctx: StageContext) -> None:
    broad = [s for s in read_scenarios(ctx) if s["name"].endswith("_broad")]
    built = capture_es_requests(broad)
    reads_fig = ctx.figures.get("reads", {}).get("scenarios", {})  # absent under --only raw_es
    figures: dict = {"connections": ctx.scale.read_connections, "scenarios": {}, "api_profile": built.get("profile")}
    ctx.procs.start_floor({scenario_path(s, "api"): built["requests"][s["name"]] for s in broad})
    for s in broad:
        captured = built["requests"][s["name"]]
        # The API measured here, right before its raw replay and NGINX after it: the reads stage's
        # run (the ORM comparison) came first after seeding, on a colder Elasticsearch, and served
        # half the calls per second the same API served beside the replay.
        api = measure(
            f"search API {s['name']} (beside its raw replay)",
            namespace.SEARCH_PORT,
            [Request("GET", scenario_path(s, "api"), auth_header(s["token"]))],
            ctx.scale.read_connections,
            ctx,
        )
        raw = measure_raw_es(s["name"], captured, ctx.scale.read_connections, ctx)
        figures["scenarios"][s["name"]] = {
            "es_requests": [{k: r[k] for k in ("method", "path", "content_type")} for r in captured],
            "es_bodies": [r["body"] for r in captured],
            "api": api,
            "api_in_reads_stage": reads_fig.get(s["name"], {}).get("api"),
            "raw_es": raw,
            "throughput_ratio": round(api["rps"] / raw["rps"], 3) if raw["rps"] else None,
            "added_p50_ms": round(api["p50_ms"] - raw["p50_ms"], 2),
            "added_p95_ms": round(api["p95_ms"] - raw["p95_ms"], 2),
            **_through_nginx(s, raw, ctx.scale.read_connections, ctx),
            **_floor(s, raw, ctx.scale.read_connections, ctx),
        }
    # One client, no queueing: the API's own added latency per request.
    s = broad[-1]
    api1 = measure(
        f"search API {s['name']} (1 client)",
        namespace.SEARCH_PORT,
        [Request("GET", scenario_path(s, "api"), auth_header(s["token"]))],
        1,
        ctx,
    )
    raw1 = measure_raw_es(s["name"], built["requests"][s["name"]], 1, ctx, suffix=" (1 client)")
    figures["single_client"] = {
        "scenario": s["name"],
        "api": api1,
        "raw_es": raw1,
        "added_p50_ms": round(api1["p50_ms"] - raw1["p50_ms"], 2),
        **_through_nginx(s, raw1, 1, ctx),
        **_floor(s, raw1, 1, ctx),
    }
    if built["query_body"].get(s["name"]):
        figures["es_profile"] = _es_profile(built["query_body"][s["name"]])
    ctx.figures["api_vs_raw_es"] = figures


def _through_nginx(s: dict, raw: dict, connections_: int, ctx: StageContext) -> dict:
    """The same API call through the bench's NGINX (what users hit), with NGINX's own CPU share."""
    from bench.processes import NGINX_PORT

    run = measure(
        f"NGINX -> search API {s['name']}" + (" (1 client)" if connections_ == 1 else ""),
        NGINX_PORT,
        [Request("GET", scenario_path(s, "api"), auth_header(s["token"]))],
        connections_,
        ctx,
    )
    per_request = run["cpu"].get("cpu_ms_per_request", {})
    return {
        "nginx": run,
        "nginx_throughput_ratio": round(run["rps"] / raw["rps"], 3) if raw["rps"] else None,
        "nginx_added_p50_ms": round(run["p50_ms"] - raw["p50_ms"], 2),
        "nginx_cpu_ms_per_request": per_request.get("nginx"),
        # of the serving path's CPU per request (NGINX, the API, Elasticsearch, Redis)
        "nginx_cpu_share": round(per_request.get("nginx", 0.0) / serving, 3)
        if (serving := sum(per_request.get(k, 0.0) for k in ("nginx", "search", "elasticsearch", "redis")))
        else None,
    }


def _floor(s: dict, raw: dict, connections_: int, ctx: StageContext) -> dict:
    """The same call on bench/proxy_floor: what any Python search API on these cores cannot go below
    (the token's Redis round trip and the same Elasticsearch requests, nothing else)."""
    run = measure(
        f"floor (bench/proxy_floor) {s['name']}" + (" (1 client)" if connections_ == 1 else ""),
        namespace.FLOOR_PORT,
        [Request("GET", scenario_path(s, "api"), auth_header(s["token"]))],
        connections_,
        ctx,
    )
    return {
        "floor": run,
        "floor_throughput_ratio": round(run["rps"] / raw["rps"], 3) if raw["rps"] else None,
        "floor_added_p50_ms": round(run["p50_ms"] - raw["p50_ms"], 2),
        "floor_cpu_ms_per_request": run["cpu"].get("cpu_ms_per_request", {}).get("floor"),
    }


def _es_profile(body: dict) -> dict:
    """The search profile API on the broad attempts query: where Elasticsearch spends its time."""
    from shared.es_client import get_es_client
    from shared.indexes import ATTEMPTS

    response = get_es_client().search(index=ATTEMPTS.alias, body={**body, "profile": True}).body
    shard = response["profile"]["shards"][0]["searches"][0]
    top = shard["query"][0]
    return {
        "took_ms": response["took"],
        "query_type": top["type"],
        "query_ms": round(top["time_in_nanos"] / 1e6, 3),
        "children": [{"type": c["type"], "ms": round(c["time_in_nanos"] / 1e6, 3)} for c in top.get("children", [])][
            :6
        ],
        "collector_ms": round(sum(c["time_in_nanos"] for c in shard["collector"]) / 1e6, 3),
        "collectors": [c["name"] for c in shard["collector"]],
    }
