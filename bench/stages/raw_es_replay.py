"""Raw Elasticsearch for one search API call: the requests the API sends for it (captured by
bench/es_bodies.py), replayed by wrk. Used by the raw_es stage and by bench/hot_path.py."""

from __future__ import annotations

from bench import namespace
from bench.loadgen import Request
from bench.stages.context import StageContext, measure, run_json_process
from bench.stages.read_scenarios import scenario_path


def es_wrk_requests(captured: list[dict]) -> list[Request]:
    return [
        Request(r["method"], r["path"], {"Content-Type": r["content_type"], "Accept": r["accept"]}, r["body"])
        for r in captured
    ]


def measure_raw_es(name: str, captured: list[dict], connections_: int, ctx: StageContext, suffix: str = "") -> dict:
    """Raw Elasticsearch for one API call = the requests the API sent for it, in order.

    wrk replays one request per iteration, not a chain per connection. With one request that is
    the whole call. With several: each request on its own at the same connections (its figures),
    and all of them in turn on the same connections (every connection alternates them, so calls/s
    = requests/s / n); the combined latency is an estimate: the sum of the parts' p50 (p95)."""
    reqs = es_wrk_requests(captured)
    if len(reqs) == 1:
        raw = measure(f"raw Elasticsearch {name}{suffix}", namespace.ES_URL, reqs, connections_, ctx)
        return {**raw, "requests_per_call": 1, "combined": "measured: one request per API call"}
    parts = []
    for k, (r, req) in enumerate(zip(captured, reqs, strict=True), start=1):
        label = f"raw ES {name} {k}/{len(reqs)} {r['path'].split('?')[0]}{suffix}"
        parts.append({"path": r["path"].split("?")[0], **measure(label, namespace.ES_URL, [req], connections_, ctx)})
    in_turn = measure(f"raw ES {name} all {len(reqs)} in turn{suffix}", namespace.ES_URL, reqs, connections_, ctx)
    return {
        "requests_per_call": len(reqs),
        "rps": round(in_turn["rps"] / len(reqs), 1),
        "p50_ms": round(sum(p["p50_ms"] for p in parts), 2),
        "p95_ms": round(sum(p["p95_ms"] for p in parts), 2),
        "duration_s": in_turn["duration_s"],
        "warmup_s": in_turn["warmup_s"],
        "combined": (
            "estimate: rps = requests/s of all requests in turn / requests per call; p50/p95 = sum of "
            "the parts' p50/p95 (wrk cannot chain requests per connection)"
        ),
        "parts": parts,
        "in_turn": in_turn,
    }


def capture_es_requests(broad: list[dict], profile_requests: int = 200) -> dict:
    """bench/es_bodies.py under the search API's settings: the Elasticsearch requests of each
    scenario's API call, in order, the page search's body, and a cProfile of the last scenario."""
    spec = {
        "scenarios": [{"name": s["name"], "path": scenario_path(s, "api"), "token": s["token"]} for s in broad],
        "profile": {"path": scenario_path(broad[-1], "api"), "token": broad[-1]["token"], "requests": profile_requests},
    }
    return run_json_process("bench.es_bodies", spec, timeout=600)
