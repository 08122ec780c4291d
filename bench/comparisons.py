"""The seven comparisons of issue 8, each run side by side on the same machine in one run.

Each function takes the run's Context, records its raw figures under ctx.figures[<name>] and
returns nothing; main.py derives the headline ratios (report.py) and survives a failing one
(it is then reported as not run, with the reason).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import orjson
import requests
from django.db import connections

from bench import cpu, database, namespace, seed
from bench.loadgen import LoadResult, Request, run_wrk
from bench.processes import ProcessSet
from bench.scales import Scale

# Issue 12's lag workload: a third of the writes are submissions, most of them on the largest
# leaderboard (the top assessment); the rest are new posts.
LAG_SUBMIT_SHARE = 1 / 3
LAG_SUBMIT_TOP_SHARE = 0.8
DOC_WRITE_SUBMISSIONS = 50  # submissions on the largest leaderboard for documents_per_submission


@dataclass
class Context:
    scale: Scale
    info: seed.SeedInfo
    procs: ProcessSet
    figures: dict = field(default_factory=dict)
    not_run: dict = field(default_factory=dict)


def _sql(query: str, params: list | None = None):
    with connections["default"].cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchone()


def wait_pipeline_idle(timeout: float = 900) -> float:
    """Seconds until no event is unindexed or uncounted and no task is queued or unacknowledged
    (an assessment deletion's fan-out in progress is its unindexed event)."""
    from read_indexer.operations import pipeline_status

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not _pipeline_busy():
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)
    raise RuntimeError(f"pipeline not idle after {timeout}s: {pipeline_status.outbox()} {pipeline_status.queues()}")


def _pipeline_busy() -> bool:
    from read_indexer.operations import pipeline_status

    box = pipeline_status.outbox()
    queues = pipeline_status.queues()
    return bool(box["unindexed"] or box["uncounted"] or queues["unacked"] or any(queues["depths"].values()))


QUIET_CPU_SHARE = 0.25  # of all cores
QUIET_SECONDS = 3  # consecutive 1 s windows


def wait_idle(ctx: Context, stage: str) -> dict:
    """Before a measured stage: wait until the pipeline has no backlog, Elasticsearch runs no merge
    (node-wide: other engineers' indexes share the node and the cores) and the machine's CPU busy
    share is below QUIET_CPU_SHARE for QUIET_SECONDS consecutive 1 s windows. After the scale's
    idle_timeout the stage runs anyway; figures.idle_waits[stage] records how it started."""
    from bench.cpu import _machine_busy
    from shared.es_client import get_es_client

    es = get_es_client()

    def merges() -> tuple[int, int]:
        nodes = es.nodes.stats(metric="indices", index_metric="merge").body["nodes"]
        bench = es.indices.stats(index=f"{namespace.ENV['ES_INDEX_PREFIX']}*", metric="merge").body
        return (
            sum(n["indices"]["merges"]["current"] for n in nodes.values()),
            bench["_all"]["total"]["merges"]["current"],
        )

    started, timeout = time.monotonic(), ctx.scale.idle_timeout
    record = {"loadavg_at_start": round(os.getloadavg()[0], 2), "timeout_s": timeout}
    quiet_windows, before = 0, _machine_busy()
    while quiet_windows < QUIET_SECONDS and time.monotonic() - started < timeout:
        time.sleep(1)
        after = _machine_busy()
        share = round((after[0] - before[0]) / (after[1] - before[1]), 3) if after[1] > before[1] else 0.0
        before = after
        node_merges, bench_merges = merges()
        pipeline_busy = _pipeline_busy()
        record.setdefault("merges_at_start", node_merges)
        record.setdefault("bench_merges_at_start", bench_merges)
        record.setdefault("pipeline_busy_at_start", pipeline_busy)
        record.setdefault("cpu_busy_share_at_start", share)
        last = {"cpu_busy_share": share, "merges": node_merges, "pipeline_busy": pipeline_busy}
        quiet_windows = quiet_windows + 1 if share < QUIET_CPU_SHARE and not node_merges and not pipeline_busy else 0
    record.update(
        seconds=round(time.monotonic() - started, 1),
        quiet=quiet_windows >= QUIET_SECONDS,
        at_end=last,
        loadavg_at_end=round(os.getloadavg()[0], 2),
    )
    ctx.figures.setdefault("idle_waits", {})[stage] = record
    print(
        f"  idle wait before {stage}: {record['seconds']} s, {'quiet' if record['quiet'] else 'NOT quiet (timeout)'}; "
        f"at start load {record['loadavg_at_start']} cpu {record['cpu_busy_share_at_start']:.0%} merges "
        f"{record['merges_at_start']} pipeline busy {record['pipeline_busy_at_start']}; at end cpu "
        f"{last['cpu_busy_share']:.0%} merges {last['merges']} pipeline busy {last['pipeline_busy']}",
        flush=True,
    )
    return record


def _auth(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


# (1) and (2): reads ------------------------------------------------------------------------------


def read_scenarios(ctx: Context) -> list[dict]:
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


def _path(scenario: dict, key: str) -> str:
    query = urlencode(scenario["params"])
    return scenario[key] + (f"?{query}" if query else "")


def _parity(scenario: dict) -> dict:
    """Both services must serve the same page: same ids in the same order, same derived metrics."""
    api = requests.get(
        namespace.url(namespace.SEARCH_PORT) + _path(scenario, "api"), headers=_auth(scenario["token"]), timeout=30
    )
    orm = requests.get(
        namespace.url(namespace.ORM_PORT) + _path(scenario, "orm"), headers=_auth(scenario["token"]), timeout=30
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


def _run(label: str, port_or_url, requests_: list[Request], connections_: int, ctx: Context, **kwargs) -> dict:
    base = port_or_url if isinstance(port_or_url, str) else namespace.url(port_or_url)
    started = time.time()
    result: LoadResult = run_wrk(
        label,
        base,
        requests_,
        connections=connections_,
        duration=ctx.scale.duration,
        warmup=ctx.scale.warmup,
        cpu_groups=ctx.procs.groups(),
        **kwargs,
    )
    print(
        f"  {label:<44} {result.rps:>8.1f} req/s  p50 {result.p50_ms:>7.1f}  p95 {result.p95_ms:>7.1f}  p99 "
        f"{result.p99_ms:>7.1f} ms"
        f"  errors {sum(result.errors.values())}  load {result.loadavg_before}",
        flush=True,
    )
    return {**result.as_dict(), "started_at": started, "ended_at": time.time()}


def reads(ctx: Context) -> list[dict]:
    scenarios = read_scenarios(ctx)
    figures: dict = {"connections": ctx.scale.read_connections, "scenarios": {}}
    c = ctx.scale.read_connections
    for s in scenarios:
        parity = _parity(s)
        before = database.statements_snapshot()
        api = _run(
            f"search API {s['name']}",
            namespace.SEARCH_PORT,
            [Request("GET", _path(s, "api"), _auth(s["token"]))],
            c,
            ctx,
        )
        middle = database.statements_snapshot()
        replica_before = database.statements_snapshot(replica=True)
        orm = _run(
            f"ORM baseline {s['name']}",
            namespace.ORM_PORT,
            [Request("GET", _path(s, "orm"), _auth(s["token"]))],
            c,
            ctx,
        )
        replica_after = database.statements_snapshot(replica=True)
        figures["scenarios"][s["name"]] = {
            "what": s["what"],
            "api_path": _path(s, "api"),
            "orm_path": _path(s, "orm"),
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
    return scenarios


def _es_wrk_requests(captured: list[dict]) -> list[Request]:
    return [
        Request(r["method"], r["path"], {"Content-Type": r["content_type"], "Accept": r["accept"]}, r["body"])
        for r in captured
    ]


def _raw_sequence(name: str, captured: list[dict], connections_: int, ctx: Context, suffix: str = "") -> dict:
    """Raw Elasticsearch for one API call = the requests the API sent for it, in order.

    wrk replays one request per iteration, not a chain per connection. With one request that is
    the whole call. With several: each request on its own at the same connections (its figures),
    and all of them in turn on the same connections (every connection alternates them, so calls/s
    = requests/s / n); the combined latency is an estimate: the sum of the parts' p50 (p95)."""
    reqs = _es_wrk_requests(captured)
    if len(reqs) == 1:
        raw = _run(f"raw Elasticsearch {name}{suffix}", namespace.ES_URL, reqs, connections_, ctx)
        return {**raw, "requests_per_call": 1, "combined": "measured: one request per API call"}
    parts = []
    for k, (r, req) in enumerate(zip(captured, reqs, strict=True), start=1):
        label = f"raw ES {name} {k}/{len(reqs)} {r['path'].split('?')[0]}{suffix}"
        parts.append({"path": r["path"].split("?")[0], **_run(label, namespace.ES_URL, [req], connections_, ctx)})
    in_turn = _run(f"raw ES {name} all {len(reqs)} in turn{suffix}", namespace.ES_URL, reqs, connections_, ctx)
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
        "scenarios": [{"name": s["name"], "path": _path(s, "api"), "token": s["token"]} for s in broad],
        "profile": {"path": _path(broad[-1], "api"), "token": broad[-1]["token"], "requests": profile_requests},
    }
    completed = subprocess.run(
        [namespace.PYTHON, "-m", "bench.es_bodies"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=namespace.ROOT,
        env=_env(),
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench.es_bodies failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def api_vs_raw_es(ctx: Context, scenarios: list[dict]) -> None:
    broad = [s for s in scenarios if s["name"].endswith("_broad")]
    built = capture_es_requests(broad)
    reads_fig = ctx.figures.get("reads", {}).get("scenarios", {})  # absent under --only raw_es
    figures: dict = {"connections": ctx.scale.read_connections, "scenarios": {}, "api_profile": built.get("profile")}
    ctx.procs.start_floor({_path(s, "api"): built["requests"][s["name"]] for s in broad})
    for s in broad:
        captured = built["requests"][s["name"]]
        # The API measured here, right before its raw replay and NGINX after it: the reads stage's
        # run (the ORM comparison) came first after seeding, on a colder Elasticsearch, and served
        # half the calls per second the same API served beside the replay (issue 16).
        api = _run(
            f"search API {s['name']} (beside its raw replay)",
            namespace.SEARCH_PORT,
            [Request("GET", _path(s, "api"), _auth(s["token"]))],
            ctx.scale.read_connections,
            ctx,
        )
        raw = _raw_sequence(s["name"], captured, ctx.scale.read_connections, ctx)
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
    api1 = _run(
        f"search API {s['name']} (1 client)",
        namespace.SEARCH_PORT,
        [Request("GET", _path(s, "api"), _auth(s["token"]))],
        1,
        ctx,
    )
    raw1 = _raw_sequence(s["name"], built["requests"][s["name"]], 1, ctx, suffix=" (1 client)")
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


def _through_nginx(s: dict, raw: dict, connections_: int, ctx: Context) -> dict:
    """The same API call through the bench's NGINX (what users hit), with NGINX's own CPU share."""
    from bench.processes import NGINX_PORT

    run = _run(
        f"NGINX -> search API {s['name']}" + (" (1 client)" if connections_ == 1 else ""),
        NGINX_PORT,
        [Request("GET", _path(s, "api"), _auth(s["token"]))],
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


def _floor(s: dict, raw: dict, connections_: int, ctx: Context) -> dict:
    """The same call on bench/proxy_floor: what any Python search API on these cores cannot go below
    (the token's Redis round trip and the same Elasticsearch requests, nothing else)."""
    run = _run(
        f"floor (bench/proxy_floor) {s['name']}" + (" (1 client)" if connections_ == 1 else ""),
        namespace.FLOOR_PORT,
        [Request("GET", _path(s, "api"), _auth(s["token"]))],
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


def _env() -> dict:
    import os

    return {**os.environ, **namespace.ENV}


# (3) and (7): writes -----------------------------------------------------------------------------


def _post_requests(tokens: list[str]) -> list[Request]:
    body = json.dumps({"title": "Benchmark post", "body": "Measuring the write path. " * 4, "tags": ["bench"]})
    return [Request("POST", "/api/v1/posts", {**_auth(t), "Content-Type": "application/json"}, body) for t in tokens]


def _server_timing(port: int, tokens: list[str], n: int = 20) -> dict:
    """Mean of the Server-Timing header over n sequential requests: SQL calls and time per write."""
    session = requests.Session()
    calls, db_ms, total_ms = [], [], []
    body = {"title": "Timing probe", "body": "x", "tags": ["bench"]}
    for i in range(n):
        response = session.post(
            namespace.url(port) + "/api/v1/posts", json=body, headers=_auth(tokens[i % len(tokens)]), timeout=30
        )
        header = response.headers.get("Server-Timing", "")
        m = re.search(r'db;dur=([\d.]+);desc="(\d+) calls"', header)
        t = re.search(r"total;dur=([\d.]+)", header)
        if m:
            db_ms.append(float(m.group(1)))
            calls.append(int(m.group(2)))
        if t:
            total_ms.append(float(t.group(1)))
    mean = lambda xs: round(sum(xs) / len(xs), 2) if xs else None  # noqa: E731
    return {
        "requests": n,
        "sql_calls_per_write": mean(calls),
        "db_ms_per_write": mean(db_ms),
        "server_ms_per_write": mean(total_ms),
    }


CAPTURE_MODES = ("capture_on", "capture_off")


def _capture(mode: str):
    """capture_on: the product as deployed; capture_off: the same instance with the capture
    triggers disabled (database.capture_disabled re-enables them on the way out, whatever happens)."""
    return database.capture_disabled() if mode == "capture_off" else contextlib.nullcontext()


def _max_id(table: str) -> int:
    return _sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}")[0]


def _since(table: str, after_id: int) -> int:
    return _sql(f"SELECT count(*) FROM {table} WHERE id > %s", [after_id])[0]


# ABBA: each mode runs twice, the order mirrored, so a drift of the machine's other load over the
# stage weighs on both modes alike; each mode's figures pool its two runs.
RUNNING_ORDER = ("capture_on", "capture_off", "capture_off", "capture_on")
PAUSED_ORDER = ("capture_off", "capture_on", "capture_on", "capture_off")


def _pool_cpu(deltas: list[dict], writes_n: int) -> dict:
    """bench.cpu.delta figures of several runs as one, per write over `writes_n`. `unaccounted`
    is machine busy time no component of ours (nor a shared server) used: other engineers' work."""
    seconds: dict[str, float] = {}
    for d in deltas:
        for k, v in d.get("cpu_seconds", {}).items():
            seconds[k] = seconds.get(k, 0.0) + v
    busy = seconds.pop("machine_busy", 0.0)
    components = {k: round(v, 3) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}
    return {
        "cpu_seconds": components,
        "machine_busy_seconds": round(busy, 3),
        "unaccounted_busy_seconds": round(busy - sum(components.values()), 3),
        "cpu_ms_per_request": {k: round(v * 1000 / writes_n, 2) for k, v in components.items()} if writes_n else {},
    }


def _pool(runs: list[dict]) -> dict:
    """One mode's runs as one: requests/s over their summed time, mean latency weighted by requests,
    CPU per request over all their requests; each run's own figures under `runs`."""
    requests_n = sum(r["requests"] for r in runs)
    seconds = sum(r["duration_s"] for r in runs)
    means = [(r["mean_ms"], r["requests"]) for r in runs if r.get("mean_ms") is not None]
    return {
        "rps": round(requests_n / seconds, 1) if seconds else 0.0,
        "requests": requests_n,
        "duration_s": round(seconds, 2),
        "warmup_s": runs[0]["warmup_s"],
        "runs_pooled": len(runs),
        "mean_ms": round(sum(m * n for m, n in means) / sum(n for _m, n in means), 2) if means else None,
        "p50_ms_per_run": [r["p50_ms"] for r in runs],
        "p95_ms_per_run": [r["p95_ms"] for r in runs],
        "outbox_rows_recorded": sum(r.get("outbox_rows_recorded", 0) for r in runs),
        "posts_written_with_warmup": sum(r.get("posts_written_with_warmup", 0) for r in runs),
        "cpu": _pool_cpu([r.get("cpu", {}) for r in runs], requests_n),
        "runs": runs,
    }


def _cpu_per_write(on: dict, off: dict) -> dict:
    """CPU ms per write per component (bench.cpu: our processes by process group, the shared
    servers by name), both modes and on - off; `total` sums every component but the load generator."""

    def per(run: dict) -> dict:
        ms = dict(run.get("cpu", {}).get("cpu_ms_per_request", {}))
        ms["total"] = round(sum(v for k, v in ms.items() if k != "load generator (wrk)"), 2)
        return ms

    a, b = per(on), per(off)
    return {
        "capture_on": a,
        "capture_off": b,
        "difference": {
            k: round(a.get(k, 0.0) - b.get(k, 0.0), 2) for k in sorted(set(a) | set(b), key=lambda k: -a.get(k, 0.0))
        },
        "unaccounted_busy_seconds": {
            "capture_on": on.get("cpu", {}).get("unaccounted_busy_seconds"),
            "capture_off": off.get("cpu", {}).get("unaccounted_busy_seconds"),
        },
    }


def _difference(on: dict, off: dict, key: str) -> dict:
    a, b = on.get(key), off.get(key)
    return {
        "capture_on": a,
        "capture_off": b,
        "difference": round(a - b, 2) if a is not None and b is not None else None,
    }


def _pair_ratios(order: tuple[str, ...], runs: list[dict]) -> list[float | None]:
    """on/off of each adjacent pair of the ABBA order: the spread behind the pooled ratio."""
    out = []
    for k in range(0, len(order), 2):
        by = {order[k]: runs[k], order[k + 1]: runs[k + 1]}
        off = by["capture_off"]["rps"]
        out.append(round(by["capture_on"]["rps"] / off, 3) if off else None)
    return out


def writes(ctx: Context) -> None:
    """POST /api/v1/posts on the same write instance (stack/apps.sh "write", WRITE_PORT), with the
    capture triggers on (the product) and off (database.capture_disabled: no outbox row, no
    NOTIFY, nothing for the listener or the workers to do), each mode twice in ABBA order.
    Workers running (the headline: the pipeline shares the two cores) and paused (SIGSTOP: the
    write path's own cost; the listener keeps forwarding). Per run: the outbox rows the writes
    recorded (0 with capture off proves the toggle), CPU per write per component, mean latency;
    then the Server-Timing sample and cProfile of both modes. Writes made with capture off are
    never indexed (their posts stay out of the search index); no later stage reads them."""
    from bench import cpu, worker_log

    info, c = ctx.info, ctx.scale.write_connections
    reqs = _post_requests(info.writer_tokens)
    figures: dict = {
        "endpoint": "POST /api/v1/posts",
        "connections": c,
        "clients": len(info.writer_tokens),
        "instance": f"write (stack/apps.sh) on port {namespace.WRITE_PORT} for every run",
        "capture_off_means": "ALTER TABLE <t> DISABLE TRIGGER USER on every captured table, on the primary",
        "captured_tables": list(database.captured_tables()),
        "order": {"workers_running": list(RUNNING_ORDER), "workers_paused": list(PAUSED_ORDER)},
        "idle_wait_s": [],
        "capture_toggles": [],
    }
    running: list[dict] = []
    drained: list[dict] = []
    for k, mode in enumerate(RUNNING_ORDER, start=1):
        figures["idle_wait_s"].append(wait_pipeline_idle())
        posts0, outbox0 = _max_id("discussions_post"), _max_id("outbox_outboxevent")
        before = cpu.snapshot(ctx.procs.groups())
        with _capture(mode) as toggled:
            if toggled:
                figures["capture_toggles"].append(toggled)
            run = _run(f"write {mode} #{k} (workers running)", namespace.WRITE_PORT, reqs, c, ctx)
            time.sleep(0.3)  # requests wrk abandoned in flight commit in this mode too
            run["outbox_rows_recorded"] = _since("outbox_outboxevent", outbox0)
        # Warm-up and measured writes, from the first request to the pipeline idle again: the
        # whole cost of a write, the indexing it causes included.
        drain = wait_pipeline_idle()
        run["posts_written_with_warmup"] = _since("discussions_post", posts0)
        run["drain_s_after_run"] = drain
        running.append(run)
        drained.append(
            {
                "mode": mode,
                "writes": run["posts_written_with_warmup"],
                "drain_s_after_run": drain,
                **cpu.delta(before, cpu.snapshot(ctx.procs.groups())),
            }
        )
    time.sleep(1.0)
    on_runs = [r for m, r in zip(RUNNING_ORDER, running, strict=True) if m == "capture_on"]
    figures["worker_tasks_during_capture_on"] = [worker_log.task_stats(r["started_at"], r["ended_at"]) for r in on_runs]

    # The same with the Celery workers paused, one pause per run. Capture is toggled only while
    # they run: a worker stopped inside a transaction would hold the lock ALTER TABLE waits for.
    paused_runs: list[dict] = []
    figures["backlog_events_at_resume"], figures["backlog_drain_s_after_paused_run"] = [], []
    for k, mode in enumerate(PAUSED_ORDER, start=1):
        outbox0 = _max_id("outbox_outboxevent")
        with _capture(mode) as toggled:
            if toggled:
                figures["capture_toggles"].append(toggled)
            ctx.procs.pause_workers()
            try:
                run = _run(f"write {mode} #{k} (workers paused)", namespace.WRITE_PORT, reqs, c, ctx)
                time.sleep(0.3)
                run["outbox_rows_recorded"] = _since("outbox_outboxevent", outbox0)
            finally:
                figures["backlog_events_at_resume"].append(
                    _sql("SELECT count(*) FROM outbox_outboxevent WHERE indexed_at IS NULL AND dead_at IS NULL")[0]
                )
                ctx.procs.resume_workers()
        paused_runs.append(run)
        figures["backlog_drain_s_after_paused_run"].append(wait_pipeline_idle(timeout=600))

    def by_mode(order, runs_):
        return {m: _pool([r for o, r in zip(order, runs_, strict=True) if o == m]) for m in CAPTURE_MODES}

    runs, paused = by_mode(RUNNING_ORDER, running), by_mode(PAUSED_ORDER, paused_runs)
    figures["workers_running"], figures["workers_paused"] = runs, paused
    until_drained = {}
    for mode in CAPTURE_MODES:
        mine = [d for d in drained if d["mode"] == mode]
        n = sum(d["writes"] for d in mine)
        until_drained[mode] = {
            **_pool_cpu(mine, n),
            "writes": n,
            "drain_s_after_run": [d["drain_s_after_run"] for d in mine],
        }

    timing = {}
    for mode in CAPTURE_MODES:
        with _capture(mode):
            timing[mode] = _server_timing(namespace.WRITE_PORT, info.writer_tokens)
    figures["server_timing"] = timing
    figures["cprofile_write_path"] = profile_write_path(ctx)
    wait_pipeline_idle()

    on, off, pon, poff = runs["capture_on"], runs["capture_off"], paused["capture_on"], paused["capture_off"]
    figures["capture"] = {
        "throughput_ratio": round(on["rps"] / off["rps"], 3) if off["rps"] else None,
        "throughput_ratio_workers_paused": round(pon["rps"] / poff["rps"], 3) if poff["rps"] else None,
        "pair_ratios": {
            "workers_running": _pair_ratios(RUNNING_ORDER, running),
            "workers_paused": _pair_ratios(PAUSED_ORDER, paused_runs),
        },
        "capture_verified": {
            "outbox_rows_per_write_capture_on": round(
                on["outbox_rows_recorded"] / max(1, on["posts_written_with_warmup"]), 3
            ),
            "outbox_rows_capture_off": off["outbox_rows_recorded"] + poff["outbox_rows_recorded"],
        },
        # Closed loop at `connections`: the mean is about connections / rps, queueing included.
        "mean_latency_ms": {
            "workers_running": _difference(on, off, "mean_ms"),
            "workers_paused": _difference(pon, poff, "mean_ms"),
        },
        # One client, sequential: the service's own time and its SQL time per write.
        "server_ms_per_write_sequential": _difference(
            timing["capture_on"], timing["capture_off"], "server_ms_per_write"
        ),
        "db_ms_per_write_sequential": _difference(timing["capture_on"], timing["capture_off"], "db_ms_per_write"),
        "sql_calls_per_write": _difference(timing["capture_on"], timing["capture_off"], "sql_calls_per_write"),
        "cpu_ms_per_write": {
            "workers_running": _cpu_per_write(on, off),
            "workers_paused": _cpu_per_write(pon, poff),
            # From the first warm-up request until the pipeline is idle again (the indexing of every
            # write counted), over every post written.
            "workers_running_until_drained": {
                **_cpu_per_write({"cpu": until_drained["capture_on"]}, {"cpu": until_drained["capture_off"]}),
                "writes": {m: until_drained[m]["writes"] for m in CAPTURE_MODES},
                "drain_s_after_run": {m: until_drained[m]["drain_s_after_run"] for m in CAPTURE_MODES},
            },
        },
    }
    cap = figures["capture"]
    if cap["capture_verified"]["outbox_rows_capture_off"]:
        raise RuntimeError(
            f"capture was not off: {cap['capture_verified']['outbox_rows_capture_off']} outbox rows recorded"
        )
    run_cpu, all_cpu = (
        cap["cpu_ms_per_write"]["workers_running"],
        cap["cpu_ms_per_write"]["workers_running_until_drained"],
    )
    print(
        f"  capture on/off: throughput ratio {cap['throughput_ratio']} (workers running; pairs "
        f"{cap['pair_ratios']['workers_running']}), "
        f"{cap['throughput_ratio_workers_paused']} (paused; pairs {cap['pair_ratios']['workers_paused']}); mean "
        "latency "
        f"+{cap['mean_latency_ms']['workers_running']['difference']} ms at {c} connections; server time "
        f"+{cap['server_ms_per_write_sequential']['difference']} ms per write sequential; CPU per write "
        f"{run_cpu['capture_on']['total']} vs {run_cpu['capture_off']['total']} ms (workers running), "
        f"{all_cpu['capture_on']['total']} vs {all_cpu['capture_off']['total']} ms until drained",
        flush=True,
    )
    ctx.figures["writes"] = figures


def pgbouncer(ctx: Context) -> None:
    """The same write endpoint and workload as writes(), through pgBouncer or straight to the
    primary, with per-request or persistent Django connections. Workers paused: the connection
    cost alone, without the co-located pipeline's CPU noise (its backlog drains afterwards)."""
    info, c = ctx.info, ctx.scale.write_connections
    reqs = _post_requests(info.writer_tokens)
    runs = {}
    wait_pipeline_idle()
    ctx.procs.pause_workers()
    try:
        for label, port in (
            ("pgbouncer_conn_max_age_0", namespace.WRITE_PORT),
            ("direct_conn_max_age_0", namespace.WRITE_DIRECT_PORT),
            ("direct_conn_max_age_60", namespace.WRITE_DIRECT_PERSISTENT_PORT),
            ("pgbouncer_conn_max_age_60", namespace.WRITE_PGBOUNCER_PERSISTENT_PORT),
        ):
            runs[label] = _run(f"write via {label} (workers paused)", port, reqs, c, ctx)
    finally:
        backlog = _sql("SELECT count(*) FROM outbox_outboxevent WHERE indexed_at IS NULL AND dead_at IS NULL")[0]
        ctx.procs.resume_workers()
    drain = wait_pipeline_idle(timeout=900)
    base = runs["pgbouncer_conn_max_age_0"]["rps"]
    ctx.figures["pgbouncer"] = {
        "endpoint": "POST /api/v1/posts",
        "connections": c,
        "workers": "paused",
        "runs": runs,
        "backlog_events_at_resume": backlog,
        "backlog_drain_s_after": drain,
        "pipeline_drain_events_per_second": round(backlog / drain, 1) if drain else None,
        "direct_vs_pgbouncer_throughput_ratio": round(runs["direct_conn_max_age_0"]["rps"] / base, 3) if base else None,
        "persistent_direct_vs_pgbouncer_throughput_ratio": round(runs["direct_conn_max_age_60"]["rps"] / base, 3)
        if base
        else None,
        "persistent_pgbouncer_vs_pgbouncer_throughput_ratio": round(runs["pgbouncer_conn_max_age_60"]["rps"] / base, 3)
        if base
        else None,
    }


# (6): hot counter ---------------------------------------------------------------------------------


def _comment_rows(post_id: int) -> tuple[int, int, int]:
    """(comment rows, comments_count, version) of one post, from the primary."""
    rows = _sql("SELECT count(*) FROM discussions_comment WHERE post_id = %s AND deleted_at IS NULL", [post_id])[0]
    count, version = _sql("SELECT comments_count, version FROM discussions_post WHERE id = %s", [post_id])
    return rows, count, version


def _hot_run(ctx: Context, kind: str, port: int, post_id: int, n: int, c: int, body: str, outbox0: int) -> dict:
    info = ctx.info
    rows0, count0, version0 = _comment_rows(post_id)
    reqs = [
        Request("POST", f"/api/v1/posts/{post_id}/comments", {**_auth(t), "Content-Type": "application/json"}, body)
        for t in info.writer_tokens
    ]
    before = database.statements_snapshot()
    run_started = time.time()
    max_id = _sql("SELECT COALESCE(MAX(id), 0) FROM discussions_comment")[0]
    load = run_wrk(
        f"hot counter {kind}",
        namespace.url(port),
        reqs,
        connections=c,
        duration=ctx.scale.duration,
        quota=n,
        cpu_groups=ctx.procs.groups(),
    ).as_dict()
    acked_at = time.monotonic()
    rows1, count1, version1 = _comment_rows(post_id)
    while True:  # requests abandoned in flight by the stopping load generator may still commit
        time.sleep(1.0)
        again = _comment_rows(post_id)
        if again[0] == rows1:
            break
        rows1, count1, version1 = again
    after = database.statements_snapshot()
    committed = rows1 - rows0
    # Throughput from the rows themselves: first to last commit of this run (created_at is set
    # in the writing transaction), independent of how the load generator's run ended.
    first, last = _sql(
        "SELECT MIN(created_at), MAX(created_at) FROM discussions_comment WHERE post_id = %s AND id > %s",
        [post_id, max_id],
    )
    span = (last - first).total_seconds() if first and last else 0.0
    exact_after = 0.0
    if kind == "pipeline":  # the counter is exact once the pipeline has flushed
        deadline = time.monotonic() + 300
        while count1 != rows1 and time.monotonic() < deadline:
            time.sleep(0.1)
            rows1, count1, version1 = _comment_rows(post_id)
        exact_after = round(time.monotonic() - acked_at, 2)
    run = {
        "post_id": post_id,
        "load": load,
        "committed_comments": committed,
        "comments_per_second": round((committed - 1) / span, 1) if span > 0 else None,
        "first_to_last_commit_s": round(span, 2),
        "comments_count": count1,
        "comment_rows": rows1,
        "exact": count1 == rows1,
        "seconds_until_exact_after_last_ack": exact_after,
        "naive_update_statements": database.calls_matching(
            before, after, 'UPDATE "discussions_post" SET "comments_count" = ("discussions_post"."comments_count" +'
        ),
        "pipeline_counter_updates_on_row": version1 - version0,  # every pipeline UPDATE bumps version by 1
        "sql_during_run": database.statements_delta(before, after, top=5),
    }
    if kind == "pipeline":
        from bench import worker_log

        run["worker_tasks"] = worker_log.task_stats(run_started, time.time())
    run["updates_on_hot_row"] = (
        run["naive_update_statements"] if kind == "naive" else run["pipeline_counter_updates_on_row"]
    )
    print(
        f"  hot counter {kind:<31} {run['comments_per_second']:>9} comments/s  count {count1}/{rows1}"
        f"  UPDATEs on the row {run['updates_on_hot_row']}  exact after {exact_after}s",
        flush=True,
    )
    # Each comment counted once: with capture off the naive run records no outbox row at all.
    run["outbox_rows_recorded"] = _since("outbox_outboxevent", outbox0)
    run["counter_moved_by"] = count1 - count0
    return run


def hot_counter(ctx: Context) -> None:
    """Comments on one post: the pipeline (capture on, counters batched by the workers) vs the naive
    baseline (NAIVE_COUNTER_UPDATES: a synchronous UPDATE ... + 1 per comment) with capture OFF, so
    the baseline is "no pipeline": it pays no capture and the pipeline does not count its comments
    a second time. Capture is re-enabled right after the naive phase (and always, on failure)."""
    from shared.es_client import get_es_client
    from shared.indexes import POSTS

    info, n, c = ctx.info, ctx.scale.hot_comments, ctx.scale.hot_connections
    body = json.dumps({"body": "+1, same here."})
    figures: dict = {"comments_per_run": n, "connections": c, "clients": len(info.writer_tokens)}
    for kind, port in (("naive", namespace.WRITE_NAIVE_PORT), ("pipeline", namespace.WRITE_PORT)):
        post_id = info.hot_posts[kind]
        figures.setdefault("idle_wait_s", {})[kind] = wait_pipeline_idle(timeout=600)
        outbox0 = _max_id("outbox_outboxevent")
        with _capture("capture_off" if kind == "naive" else "capture_on") as toggled:
            run = _hot_run(ctx, kind, port, post_id, n, c, body, outbox0)
        run["capture"] = "off (triggers disabled for the run)" if kind == "naive" else "on"
        if toggled:
            run["capture_toggle"] = toggled
        figures[kind] = run
    # The post's search document shows the exact count too, once projected.
    post_id = info.hot_posts["pipeline"]
    started, searchable = time.monotonic(), None
    while time.monotonic() - started < 120:
        doc = get_es_client().options(ignore_status=404).get(index=POSTS.alias, id=str(post_id)).body
        if doc.get("found") and doc["_source"].get("comments_count") == figures["pipeline"]["comment_rows"]:
            searchable = round(time.monotonic() - started, 2)
            break
        time.sleep(0.1)
    figures["pipeline"]["search_document_exact_after_s"] = searchable
    figures["drain_s_after_pipeline_run"] = wait_pipeline_idle(timeout=900)
    naive, pipe = figures["naive"], figures["pipeline"]
    # The baseline counted each of its comments exactly once: its counter moved by the comments
    # committed, capture recorded nothing for them, and once the pipeline has drained (capture back
    # on, counters flushed) its counter still equals its rows (nothing counted them a second time).
    rows_after, count_after, _ = _comment_rows(info.hot_posts["naive"])
    figures["naive_checks"] = {
        "counter_moved_by_committed_comments": naive["counter_moved_by"] == naive["committed_comments"],
        "no_outbox_rows_with_capture_off": naive["outbox_rows_recorded"] == 0,
        "exact_after_pipeline_drained": count_after == rows_after,
        "comments_count_after_pipeline_drained": count_after,
        "comment_rows_after_pipeline_drained": rows_after,
    }
    naive_ok = naive["exact"] and all(v for k, v in figures["naive_checks"].items() if isinstance(v, bool))
    figures["speedup"] = round(pipe["comments_per_second"] / naive["comments_per_second"], 3)
    figures["exact"] = bool(naive_ok and pipe["exact"] and searchable is not None)
    figures["pipeline_updates_per_comment"] = round(pipe["updates_on_hot_row"] / max(1, pipe["committed_comments"]), 5)
    ctx.figures["hot_counter"] = figures


# (4): commit-to-searchable lag --------------------------------------------------------------------


def lag(ctx: Context) -> None:
    from django_redis import get_redis_connection

    from bench import cpu, worker_log
    from read_indexer.observability import lag as pipeline_lag
    from shared.indexes import ATTEMPTS, POSTS

    s = ctx.scale
    wait_pipeline_idle()
    phases = [
        # A light load first: the pipeline's latency when it is not the bottleneck.
        {"name": "light", "kind": "open", "rate": 25, "seconds": max(4, s.lag_steady_seconds / 3)},
        {"name": "steady", "kind": "open", "rate": s.lag_rate, "seconds": s.lag_steady_seconds},
        {"name": "burst", "kind": "closed", "writes": s.lag_burst_writes, "connections": s.lag_burst_connections},
    ]
    spec = {
        "write_url": namespace.url(namespace.WRITE_PORT),
        "es_url": namespace.ES_URL,
        "aliases": {"posts": POSTS.alias, "attempts": ATTEMPTS.alias},
        "post_tokens": ctx.info.writer_tokens,
        "submit_jobs": ctx.info.submit_jobs,
        "submit_share": LAG_SUBMIT_SHARE,
        "top_assessment": ctx.info.top_assessment,
        "phases": phases,
        "poll_interval": 0.05,
        "settle_timeout": 120 if s.name == "small" else 900,
    }
    started = time.time()
    with cpu.Sampler(ctx.procs.groups()) as sampler:
        completed = subprocess.run(
            [namespace.PYTHON, "-m", "bench.lag_probe"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            cwd=namespace.ROOT,
            env=_env(),
            timeout=3600,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"bench.lag_probe failed: {completed.stderr[-2000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    # The pipeline's own view (read_indexer.observability.lag): transaction start -> bulk indexed (before refresh).
    raw = get_redis_connection("default").lrange(pipeline_lag.LAG_SAMPLES_KEY, 0, pipeline_lag.MAX_SAMPLES - 1)
    samples = [tuple(map(float, item.decode().split(":"))) for item in raw]

    def window(lo: float, hi: float) -> dict:
        values = sorted(v for at, v in samples if lo <= at <= hi)
        if not values:
            return {"samples": 0, "p50": None, "p99": None, "max": None}
        pick = lambda q: round(values[min(len(values) - 1, int(q * len(values)))], 3)  # noqa: E731
        return {"samples": len(values), "p50": pick(0.5), "p99": pick(0.99), "max": round(values[-1], 3)}

    time.sleep(1.5)  # the workers' last log lines of the run
    for phase in result["phases"]:
        p = result[phase]
        p["pipeline_lag_seconds"] = window(p["started_at"], p["ended_at"])
        writes = sum(p["acknowledged"].values())
        p["cpu_while_writing"] = sampler.window(p["started_at"], p["writes_ended_at"], writes)
        p["worker_tasks"] = worker_log.task_stats(p["started_at"], p["ended_at"])
        submitted = p["acknowledged"]["attempts"]
        p["mix"] = {
            "writes": writes,
            "posts": p["acknowledged"]["posts"],
            "submissions": submitted,
            "submission_share": round(submitted / writes, 3) if writes else None,
            "submissions_on_top_assessment": p["submissions_on_top_assessment"],
            "top_assessment_share_of_submissions": round(p["submissions_on_top_assessment"] / submitted, 3)
            if submitted
            else None,
        }
        print(
            f"  lag {phase:<39} searchable p50 {p['lag_seconds']['p50']} s  p99 {p['lag_seconds']['p99']} s"
            f"  (pipeline p99 {p['pipeline_lag_seconds']['p99']} s, {p['achieved_rate']} writes/s; "
            f"{submitted}/{writes} submissions, {p['submissions_on_top_assessment']} on the top assessment)",
            flush=True,
        )
    result["pipeline_lag_percentiles_whole_run"] = pipeline_lag.percentiles(window_seconds=time.time() - started + 1)
    result["drain_s_after"] = wait_pipeline_idle(timeout=900)
    result["workload"] = {
        "submit_share": LAG_SUBMIT_SHARE,
        "top_assessment_share_planned": LAG_SUBMIT_TOP_SHARE,
        "top_assessment": ctx.info.top_assessment,
        "top_assessment_submitted_at_seed": ctx.info.top_assessment_submitted,
        "other_writes": "POST /api/v1/posts",
        "submissions": "POST /api/v1/attempts/<id>/submit",
    }
    ctx.figures["lag"] = result


# Issue 13: writes made outside Django --------------------------------------------------------


def raw_sql_lag(ctx: Context) -> None:
    """Commit-to-searchable lag of changes committed by plain SQL on the primary (bench/raw_sql_probe.py,
    a separate process): post title UPDATEs and a few comment INSERTs on seeded posts of the big
    organisation, one per transaction, at the scale's rate; visible = the search API shows the new
    title (or the post's comments_count one higher). Workers and listener running."""
    from bench import cpu

    s, info = ctx.scale, ctx.info
    writes_n = int(s.raw_sql_rate * s.raw_sql_seconds)
    comments_n = writes_n // s.raw_sql_comment_every if s.raw_sql_comment_every else 0
    # Seeded posts only (ids up to scale.posts; the hot posts come after): they are in the search
    # index. Writes of earlier stages made with capture off are not, and are never picked.
    rows = _many(
        "SELECT id, author_id FROM discussions_post WHERE organisation_id = %s AND deleted_at IS NULL AND id <= %s "
        "ORDER BY id",
        [info.big_org, s.posts],
    )
    if len(rows) < writes_n:
        raise RuntimeError(f"{len(rows)} seeded posts of organisation {info.big_org}, {writes_n} needed")
    rng = random.Random(13)
    rng.shuffle(rows)
    comment_posts = [list(r) for r in rows[:comments_n]]
    update_posts = [r[0] for r in rows[comments_n:writes_n]]
    spec = {
        "search_url": namespace.url(namespace.SEARCH_PORT),
        "token": info.tokens["big_org_staff"],
        "update_posts": update_posts,
        "comment_posts": comment_posts,
        "rate": s.raw_sql_rate,
        "writes": writes_n,
        "comment_every": s.raw_sql_comment_every,
        "nonce": f"{int(time.time())}",
        "poll_interval": 0.05,
        "settle_timeout": 60 if s.name == "small" else 300,
    }
    idle = wait_pipeline_idle()
    with cpu.Sampler(ctx.procs.groups()) as sampler:
        completed = subprocess.run(
            [namespace.PYTHON, "-m", "bench.raw_sql_probe"],
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            cwd=namespace.ROOT,
            env=_env(),
            timeout=3600,
        )
    if completed.returncode != 0:
        raise RuntimeError(f"bench.raw_sql_probe failed: {completed.stderr[-2000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    committed = sum(result["committed"].values())
    result.update(
        how=(
            "psycopg2 on the primary (not pgBouncer, not the write service), one change per transaction, open loop; "
            "commit time = time.time() after commit() returned; searchable = first GET /search/v1/posts?id__in=... "
            "(big organisation's staff) that shows the new title / the comment counted"
        ),
        writes="UPDATE discussions_post SET title, updated_at (a different seeded post each); every "
        f"{s.raw_sql_comment_every}th an INSERT INTO discussions_comment (the post's comments_count, via the "
        "counters batch)",
        idle_wait_before_s=idle,
        cpu_while_writing=sampler.window(result["started_at"], result["writes_ended_at"], committed),
        drain_s_after=wait_pipeline_idle(),
    )
    ctx.figures["raw_sql_lag"] = result
    lag, by = result["lag_seconds"], result["lag_seconds_by_kind"]
    print(
        f"  raw SQL lag ({result['committed']} at {result['achieved_rate']} writes/s): n {lag['n']} p50 {lag['p50']} "
        f"p95 {lag['p95']} p99 {lag['p99']} max {lag['max']} s; updates p99 {by['update']['p99']} s, comments p99 "
        f"{by['comment']['p99']} s; unseen {result['unseen_after_settle']}, errors {result['errors']}",
        flush=True,
    )
    if result["unseen_after_settle"] or result["errors"]:
        raise RuntimeError(
            f"raw SQL writes: {result['unseen_after_settle']} never searchable, {result['errors']} failed "
            f"({result['error_samples']})"
        )


# Documents written per submission ---------------------------------------------------------------


def _index_writes(es, alias: str) -> dict:
    """Elasticsearch's own indexing stats of the physical index behind `alias` (primaries)."""
    stats = es.indices.stats(index=alias, metric="indexing").body
    indexing = stats["_all"]["primaries"]["indexing"]
    return {
        "indices": sorted(stats["indices"]),
        "index_total": indexing["index_total"],
        "index_failed": indexing.get("index_failed", 0),
    }


def documents_per_submission(ctx: Context) -> None:
    """With the workers running and the pipeline idle: Elasticsearch's indexing stats of the attempts
    and assessments indexes, DOC_WRITE_SUBMISSIONS submissions of started attempts of the largest
    leaderboard through the write API, wait until all are searchable and the pipeline is idle, the
    stats again. Writes per submission must not grow with the leaderboard."""
    from shared.es_client import get_es_client
    from shared.indexes import ASSESSMENTS, ATTEMPTS

    info, es = ctx.info, get_es_client()
    jobs = info.doc_write_jobs
    if not jobs:
        raise RuntimeError("no started attempts of the top assessment were reserved (seed.issue_tokens)")
    top = info.top_assessment
    board_before = _sql("SELECT submitted_count FROM assessments_assessment WHERE id = %s", [top])[0]
    idle_wait = wait_pipeline_idle()
    before = {"attempts": _index_writes(es, ATTEMPTS.alias), "assessments": _index_writes(es, ASSESSMENTS.alias)}
    session, errors, submitted = requests.Session(), [], []
    started = time.monotonic()
    for k, (attempt_id, token) in enumerate(jobs):
        response = session.post(
            namespace.url(namespace.WRITE_PORT) + f"/api/v1/attempts/{attempt_id}/submit",
            json={"score": f"{40 + k % 60}.5"},
            headers=_auth(token),
            timeout=30,
        )
        if response.status_code >= 300:
            errors.append(f"{response.status_code} {response.text[:200]}")
        else:
            submitted.append(attempt_id)
    write_s = time.monotonic() - started
    ids, searchable_s = [str(a) for a in submitted], None
    while time.monotonic() - started < 300:
        found = es.count(
            index=ATTEMPTS.alias,
            query={"bool": {"filter": [{"ids": {"values": ids}}, {"term": {"status": "submitted"}}]}},
        )["count"]
        if found == len(ids):
            searchable_s = round(time.monotonic() - started, 2)
            break
        time.sleep(0.1)
    drain = wait_pipeline_idle()
    time.sleep(1.0)  # a counters batch's follow-up projection, if any, shows in the queues
    drain += wait_pipeline_idle()
    after = {"attempts": _index_writes(es, ATTEMPTS.alias), "assessments": _index_writes(es, ASSESSMENTS.alias)}
    n = len(submitted)
    written = {k: after[k]["index_total"] - before[k]["index_total"] for k in before}
    board_es = es.count(
        index=ATTEMPTS.alias,
        query={
            "bool": {
                "filter": [
                    {"term": {"assessment": top}},
                    {"term": {"status": "submitted"}},
                    {"term": {"deleted": False}},
                ]
            }
        },
    )["count"]
    figures = {
        "assessment_id": top,
        "leaderboard_size_before": board_before,
        "leaderboard_size_after": _sql("SELECT submitted_count FROM assessments_assessment WHERE id = %s", [top])[0],
        "leaderboard_size_in_search_index": board_es,
        "submissions": n,
        "errors": len(errors),
        "error_samples": errors[:3],
        "sequential_writes_seconds": round(write_s, 2),
        "all_searchable_after_s": searchable_s,
        "idle_wait_before_s": idle_wait,
        "drain_after_s": round(drain, 2),
        "attempt_document_writes": written["attempts"],
        "assessment_document_writes": written["assessments"],
        "attempt_document_writes_per_submission": round(written["attempts"] / n, 3) if n else None,
        "assessment_document_writes_per_submission": round(written["assessments"] / n, 3) if n else None,
        "index_failed_delta": {k: after[k]["index_failed"] - before[k]["index_failed"] for k in before},
        "physical_indexes": {k: after[k]["indices"] for k in after},
        "how": (
            "GET <alias>/_stats/indexing, primaries.indexing.index_total, before and after, pipeline idle both times"
        ),
    }
    print(
        f"  {n} submissions on a {board_before:,}-attempt leaderboard: "
        f"{figures['attempt_document_writes_per_submission']} "
        f"attempt documents and {figures['assessment_document_writes_per_submission']} assessment documents written "
        f"per submission (all searchable after {searchable_s} s)",
        flush=True,
    )
    ctx.figures["documents_per_submission"] = figures


# Search-as-you-type (issue 17) ------------------------------------------------------------------

# Keystrokes of a few words of the seed's vocabulary (seed.WORDS), taken in turn by wrk's threads.
TYPING = ("gr", "gra", "grap", "graph", "graph qu", "graph que", "se", "sea", "sear", "pipeline st")


def suggest(ctx: Context) -> None:
    """GET {assessments,posts}/suggest at read_connections clients; posts as the largest
    organisation's staff (the most visible titles: the worst case)."""
    info, c = ctx.info, ctx.scale.read_connections
    figures: dict = {"connections": c, "prefixes": list(TYPING), "scenarios": {}}
    for name, token in (("assessments", info.tokens["candidate_reader"]), ("posts", info.tokens["big_org_staff"])):
        reqs = [Request("GET", f"/search/v1/{name}/suggest?{urlencode({'prefix': p})}", _auth(token)) for p in TYPING]
        probe = requests.get(namespace.url(namespace.SEARCH_PORT) + reqs[0].path, headers=_auth(token), timeout=30)
        probe.raise_for_status()
        figures["scenarios"][name] = {
            "probe_results": len(probe.json()["results"]),
            "api": _run(f"search API suggest {name}", namespace.SEARCH_PORT, reqs, c, ctx),
        }
    ctx.figures["suggest"] = figures


# (5): reindex vs raw parallel bulk -------------------------------------------------------------


def reindex(ctx: Context) -> None:
    from elasticsearch import helpers

    from read_indexer.lifecycle import index_lifecycle
    from shared.es_client import get_es_client
    from shared.indexes import ATTEMPTS
    from write_service.read_model.projections import PROJECTIONS

    s = ctx.scale
    runs = {}
    for source in ("replica", "primary"):  # the same rebuild, heavy reads off the primary or on it
        wait_pipeline_idle()
        runs[source] = _reindex_run(ctx, primary_only=source == "primary")
        print(
            f"  {f'reindex attempts from the {source} (load phase)':<44} {runs[source]['docs_per_second']:>9} docs/s; "
            f"primary CPU {runs[source]['cpu']['cpu_seconds'].get('postgresql primary', 0)} s",
            flush=True,
        )
    reindex_fig = runs["replica"]

    # The same documents, projected and serialised before the clock starts.
    prepared_started = time.monotonic()
    target = index_lifecycle.create_physical_index(ATTEMPTS, bulk_load=True)
    actions: list[tuple[bytes, bytes]] = []
    projection = PROJECTIONS["attempts"]
    for ids in projection.walk_pages(after_key=0, batch_size=s.reindex_batch_size):
        for doc in projection.project(ids):
            actions.append(
                (
                    orjson.dumps(
                        {
                            "index": {
                                "_index": target,
                                "_id": str(doc.id),
                                "version": doc.version,
                                "version_type": "external_gte",
                            }
                        }
                    ),
                    doc.body,
                )
            )
    prepare_s = time.monotonic() - prepared_started
    es = get_es_client()
    try:
        started = time.monotonic()
        indexed = 0
        for ok, _item in helpers.parallel_bulk(
            es,
            actions,
            thread_count=s.reindex_workers,
            chunk_size=s.reindex_batch_size,
            expand_action_callback=lambda pair: pair,
            raise_on_error=True,
        ):
            indexed += ok
        raw_s = time.monotonic() - started
    finally:
        es.indices.delete(index=target, ignore_unavailable=True)
    raw_fig = {
        "documents": indexed,
        "seconds": round(raw_s, 2),
        "docs_per_second": round(indexed / raw_s, 1),
        "thread_count": s.reindex_workers,
        "chunk_size": s.reindex_batch_size,
        "prepare_seconds_not_counted": round(prepare_s, 2),
    }
    print(f"  {'raw parallel_bulk, pre-serialised':<44} {raw_fig['docs_per_second']:>9} docs/s", flush=True)
    ctx.figures["reindex"] = {
        "reindex": reindex_fig,
        "reindex_from_primary": runs["primary"],
        "raw_parallel_bulk": raw_fig,
        "ratio": round(reindex_fig["docs_per_second"] / raw_fig["docs_per_second"], 3),
        "primary_cpu_seconds": {k: v["cpu"]["cpu_seconds"].get("postgresql primary", 0) for k, v in runs.items()},
    }
    verify_runs = {}
    for source in ("replica", "primary"):
        wait_pipeline_idle()
        verify_runs[source] = _verify_run(ctx, primary_only=source == "primary")
        v = verify_runs[source]
        print(
            f"  {f'verify attempts from the {source}':<44} {v['rows']:,} rows in {v['compare_seconds']} s "
            f"({v['rows_per_second']:,.0f} rows/s, clean: {v['clean']}); primary CPU "
            f"{v['cpu']['cpu_seconds'].get('postgresql primary', 0)} s",
            flush=True,
        )
    ctx.figures["verify"] = {
        **verify_runs,
        "primary_cpu_seconds": {
            k: v["cpu"]["cpu_seconds"].get("postgresql primary", 0) for k, v in verify_runs.items()
        },
    }
    wait_pipeline_idle()


def _reindex_run(ctx: Context, *, primary_only: bool) -> dict:
    s = ctx.scale
    command = [
        "manage.py",
        "reindex",
        "attempts",
        "--workers",
        str(s.reindex_workers),
        "--batch-size",
        str(s.reindex_batch_size),
        *(["--primary"] if primary_only else []),
    ]
    before, cpu_before = database.statements_snapshot(), cpu.snapshot(ctx.procs.groups())
    started = time.monotonic()
    completed = subprocess.run(
        [namespace.PYTHON, *command], capture_output=True, text=True, cwd=namespace.ROOT, env=_env(), timeout=7200
    )
    wall = time.monotonic() - started
    cpu_after, after = cpu.snapshot(ctx.procs.groups()), database.statements_snapshot()
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py reindex failed: {completed.stderr[-2000:]}")
    m = re.search(r"loaded ([\d,]+) documents in ([\d.]+) s \(([\d,]+) docs/s\)", completed.stdout)
    if not m:
        raise RuntimeError(f"unexpected reindex output: {completed.stdout[-1000:]}")
    documents, load_s = int(m.group(1).replace(",", "")), float(m.group(2))
    read_from = next((line for line in completed.stdout.splitlines() if line.startswith("Loading ")), None)
    return {
        "command": " ".join(command),
        "documents": documents,
        "load_seconds": load_s,
        "docs_per_second": round(documents / load_s, 1),
        "wall_seconds": round(wall, 2),
        "summary": m.group(0),
        "read_from": read_from,
        "cpu": cpu.delta(cpu_before, cpu_after),
        "sql_during_reindex": database.statements_delta(before, after, top=5),
    }


def _verify_run(ctx: Context, *, primary_only: bool) -> dict:
    command = ["manage.py", "verify", "attempts", "--json", *(["--primary"] if primary_only else [])]
    cpu_before = cpu.snapshot(ctx.procs.groups())
    started = time.monotonic()
    completed = subprocess.run(
        [namespace.PYTHON, *command], capture_output=True, text=True, cwd=namespace.ROOT, env=_env(), timeout=3600
    )
    wall = time.monotonic() - started
    cpu_after = cpu.snapshot(ctx.procs.groups())
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"manage.py verify failed: {completed.stderr[-2000:]}")
    report = orjson.loads(completed.stdout)["indexes"][0]
    return {
        "command": " ".join(command),
        "rows": report["rows"],
        "documents": report["documents"],
        "compare_seconds": report["compare_seconds"],
        "rows_per_second": report["rows_per_second"],
        "wall_seconds": round(wall, 2),
        "read_from": report["read_from"],
        "drift_counts": report["drift_counts"],
        "clean": completed.returncode == 0,
        "cpu": cpu.delta(cpu_before, cpu_after),
    }


def _many(query: str, params: list | None = None) -> list[tuple]:
    with connections["default"].cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def profile_write_path(ctx: Context, requests_per_mode: int = 100) -> dict:
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
    for mode in CAPTURE_MODES:
        with _capture(mode):
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
