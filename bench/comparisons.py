"""The seven comparisons of issue 8, each run side by side on the same machine in one run.

Each function takes the run's Context, records its raw figures under ctx.figures[<name>] and
returns nothing; main.py derives the headline ratios (report.py) and survives a failing one
(it is then reported as not run, with the reason).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

import orjson
import requests
from django.db import connections

from bench import database, namespace, seed
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
    from read_indexer import pipeline_status

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if not _pipeline_busy():
            return round(time.monotonic() - started, 2)
        time.sleep(0.2)
    raise RuntimeError(f"pipeline not idle after {timeout}s: {pipeline_status.outbox()} {pipeline_status.queues()}")


def _pipeline_busy() -> bool:
    from read_indexer import pipeline_status

    box = pipeline_status.outbox()
    queues = pipeline_status.queues()
    return bool(box["unindexed"] or box["uncounted"] or queues["unacked"] or any(queues["depths"].values()))


QUIET_CPU_SHARE = 0.25  # of all cores
QUIET_SECONDS = 3       # consecutive 1 s windows


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
        return (sum(n["indices"]["merges"]["current"] for n in nodes.values()),
                bench["_all"]["total"]["merges"]["current"])

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
    record.update(seconds=round(time.monotonic() - started, 1), quiet=quiet_windows >= QUIET_SECONDS,
                  at_end=last, loadavg_at_end=round(os.getloadavg()[0], 2))
    ctx.figures.setdefault("idle_waits", {})[stage] = record
    print(f"  idle wait before {stage}: {record['seconds']} s, {'quiet' if record['quiet'] else 'NOT quiet (timeout)'}; "
          f"at start load {record['loadavg_at_start']} cpu {record['cpu_busy_share_at_start']:.0%} merges "
          f"{record['merges_at_start']} pipeline busy {record['pipeline_busy_at_start']}; at end cpu "
          f"{last['cpu_busy_share']:.0%} merges {last['merges']} pipeline busy {last['pipeline_busy']}", flush=True)
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
        {"name": "leaderboard_broad", "list": "leaderboard", "assessment_id": top, "params": {}, "token": reader,
         "api": f"/search/v1/assessments/{top}/leaderboard", "orm": f"/bench/orm/assessments/{top}/leaderboard",
         "what": f"leaderboard of the most-taken assessment ({info.top_assessment_submitted} submitted), rank order"},
        {"name": "leaderboard_selective", "list": "leaderboard", "assessment_id": top,
         "params": {"score__gte": threshold}, "token": reader,
         "api": f"/search/v1/assessments/{top}/leaderboard", "orm": f"/bench/orm/assessments/{top}/leaderboard",
         "what": f"same leaderboard, score__gte={threshold} (about 300 rows)"},
        {"name": "attempts_broad", "list": "attempts", "params": {"status": "submitted", "ordering": "-submitted_at"},
         "token": staff, "api": "/search/v1/attempts", "orm": "/bench/orm/attempts",
         "what": "staff of the big organisation: its submitted attempts, newest first"},
        {"name": "attempts_selective", "list": "attempts",
         "params": {"assessment": selective_id, "qualified": "true", "ordering": "-score"}, "token": staff,
         "api": "/search/v1/attempts", "orm": "/bench/orm/attempts",
         "what": f"same staff: qualified attempts of assessment {selective_id} ({selective_qualified}), best first"},
    ]


def _path(scenario: dict, key: str) -> str:
    query = urlencode(scenario["params"])
    return scenario[key] + (f"?{query}" if query else "")


def _parity(scenario: dict) -> dict:
    """Both services must serve the same page: same ids in the same order, same derived metrics."""
    api = requests.get(namespace.url(namespace.SEARCH_PORT) + _path(scenario, "api"), headers=_auth(scenario["token"]), timeout=30)
    orm = requests.get(namespace.url(namespace.ORM_PORT) + _path(scenario, "orm"), headers=_auth(scenario["token"]), timeout=30)
    if api.status_code != 200 or orm.status_code != 200:
        return {"same_page": False, "detail": f"status api={api.status_code} orm={orm.status_code}: {api.text[:200]} {orm.text[:200]}"}
    a, o = api.json(), orm.json()
    keys = ("attempt_id", "rank", "qualified", "score")
    rows_a = [tuple(r[k] for k in keys) + (round(r["percentile"], 6) if r["percentile"] is not None else None,) for r in a["results"]]
    rows_o = [tuple(r[k] for k in keys) + (round(r["percentile"], 6) if r["percentile"] is not None else None,) for r in o["results"]]
    counts_agree = (a["count"] == o["count"]) or (a.get("count_is_lower_bound") and o["count"] >= a["count"])
    return {"same_page": rows_a == rows_o and counts_agree, "api_count": a["count"],
            "api_count_is_lower_bound": a.get("count_is_lower_bound", False), "orm_count": o["count"],
            "rows": len(rows_a), "detail": "" if rows_a == rows_o else _first_difference(rows_a, rows_o)}


def _first_difference(a: list, b: list) -> str:
    for x, y in zip(a, b):
        if x != y:
            return f"first difference: api {x} vs orm {y}"
    return f"lengths differ: api {len(a)} rows, orm {len(b)} rows"


def _run(label: str, port_or_url, requests_: list[Request], connections_: int, ctx: Context, **kwargs) -> dict:
    base = port_or_url if isinstance(port_or_url, str) else namespace.url(port_or_url)
    started = time.time()
    result: LoadResult = run_wrk(label, base, requests_, connections=connections_, duration=ctx.scale.duration,
                                 warmup=ctx.scale.warmup, cpu_groups=ctx.procs.groups(), **kwargs)
    print(f"  {label:<44} {result.rps:>8.1f} req/s  p50 {result.p50_ms:>7.1f}  p95 {result.p95_ms:>7.1f}  p99 {result.p99_ms:>7.1f} ms"
          f"  errors {sum(result.errors.values())}  load {result.loadavg_before}", flush=True)
    return {**result.as_dict(), "started_at": started, "ended_at": time.time()}


def reads(ctx: Context) -> list[dict]:
    scenarios = read_scenarios(ctx)
    figures: dict = {"connections": ctx.scale.read_connections, "scenarios": {}}
    c = ctx.scale.read_connections
    for s in scenarios:
        parity = _parity(s)
        before = database.statements_snapshot()
        api = _run(f"search API {s['name']}", namespace.SEARCH_PORT, [Request("GET", _path(s, "api"), _auth(s["token"]))], c, ctx)
        middle = database.statements_snapshot()
        replica_before = database.statements_snapshot(replica=True)
        orm = _run(f"ORM baseline {s['name']}", namespace.ORM_PORT, [Request("GET", _path(s, "orm"), _auth(s["token"]))], c, ctx)
        replica_after = database.statements_snapshot(replica=True)
        figures["scenarios"][s["name"]] = {
            "what": s["what"], "api_path": _path(s, "api"), "orm_path": _path(s, "orm"), "matches": parity.get("orm_count"),
            "parity": parity, "api": api, "orm": orm,
            "throughput_ratio": round(api["rps"] / orm["rps"], 2) if orm["rps"] else None,
            "p95_ratio": round(api["p95_ms"] / orm["p95_ms"], 3) if orm["p95_ms"] else None,
            "sql_during_api_run": database.statements_delta(before, middle, top=3),
            "sql_during_orm_run_on_replica": database.statements_delta(replica_before, replica_after, top=4),
        }
    ctx.figures["reads"] = figures
    return scenarios


def _es_wrk_requests(captured: list[dict]) -> list[Request]:
    return [Request(r["method"], r["path"], {"Content-Type": r["content_type"], "Accept": r["accept"]}, r["body"])
            for r in captured]


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
    for k, (r, req) in enumerate(zip(captured, reqs), start=1):
        label = f"raw ES {name} {k}/{len(reqs)} {r['path'].split('?')[0]}{suffix}"
        parts.append({"path": r["path"].split("?")[0], **_run(label, namespace.ES_URL, [req], connections_, ctx)})
    in_turn = _run(f"raw ES {name} all {len(reqs)} in turn{suffix}", namespace.ES_URL, reqs, connections_, ctx)
    return {
        "requests_per_call": len(reqs),
        "rps": round(in_turn["rps"] / len(reqs), 1),
        "p50_ms": round(sum(p["p50_ms"] for p in parts), 2),
        "p95_ms": round(sum(p["p95_ms"] for p in parts), 2),
        "duration_s": in_turn["duration_s"], "warmup_s": in_turn["warmup_s"],
        "combined": ("estimate: rps = requests/s of all requests in turn / requests per call; p50/p95 = sum of "
                     "the parts' p50/p95 (wrk cannot chain requests per connection)"),
        "parts": parts, "in_turn": in_turn,
    }


def api_vs_raw_es(ctx: Context, scenarios: list[dict]) -> None:
    broad = [s for s in scenarios if s["name"].endswith("_broad")]
    spec = {"scenarios": [{"name": s["name"], "path": _path(s, "api"), "token": s["token"]} for s in broad],
            "profile": {"path": _path(broad[-1], "api"), "token": broad[-1]["token"], "requests": 200}}
    completed = subprocess.run([namespace.PYTHON, "-m", "bench.es_bodies"], input=json.dumps(spec), capture_output=True,
                               text=True, cwd=namespace.ROOT, env=_env(), timeout=600)
    if completed.returncode != 0:
        raise RuntimeError(f"bench.es_bodies failed: {completed.stderr[-2000:]}")
    built = json.loads(completed.stdout.strip().splitlines()[-1])
    reads_fig = ctx.figures["reads"]["scenarios"]
    figures: dict = {"connections": ctx.scale.read_connections, "scenarios": {}, "api_profile": built.get("profile")}
    for s in broad:
        captured = built["requests"][s["name"]]
        raw = _raw_sequence(s["name"], captured, ctx.scale.read_connections, ctx)
        api = reads_fig[s["name"]]["api"]
        figures["scenarios"][s["name"]] = {
            "es_requests": [{k: r[k] for k in ("method", "path", "content_type")} for r in captured],
            "es_bodies": [r["body"] for r in captured], "api": api, "raw_es": raw,
            "throughput_ratio": round(api["rps"] / raw["rps"], 3) if raw["rps"] else None,
            "added_p50_ms": round(api["p50_ms"] - raw["p50_ms"], 2),
            "added_p95_ms": round(api["p95_ms"] - raw["p95_ms"], 2),
        }
    # One client, no queueing: the API's own added latency per request.
    s = broad[-1]
    api1 = _run(f"search API {s['name']} (1 client)", namespace.SEARCH_PORT,
                [Request("GET", _path(s, "api"), _auth(s["token"]))], 1, ctx)
    raw1 = _raw_sequence(s["name"], built["requests"][s["name"]], 1, ctx, suffix=" (1 client)")
    figures["single_client"] = {"scenario": s["name"], "api": api1, "raw_es": raw1,
                                "added_p50_ms": round(api1["p50_ms"] - raw1["p50_ms"], 2)}
    if built["query_body"].get(s["name"]):
        figures["es_profile"] = _es_profile(built["query_body"][s["name"]])
    ctx.figures["api_vs_raw_es"] = figures


def _es_profile(body: dict) -> dict:
    """The search profile API on the broad attempts query: where Elasticsearch spends its time."""
    from shared.es_client import get_es_client
    from shared.indexes import ATTEMPTS

    response = get_es_client().search(index=ATTEMPTS.alias, body={**body, "profile": True}).body
    shard = response["profile"]["shards"][0]["searches"][0]
    top = shard["query"][0]
    return {"took_ms": response["took"], "query_type": top["type"],
            "query_ms": round(top["time_in_nanos"] / 1e6, 3),
            "children": [{"type": c["type"], "ms": round(c["time_in_nanos"] / 1e6, 3)} for c in top.get("children", [])][:6],
            "collector_ms": round(sum(c["time_in_nanos"] for c in shard["collector"]) / 1e6, 3),
            "collectors": [c["name"] for c in shard["collector"]]}


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
        response = session.post(namespace.url(port) + "/api/v1/posts", json=body, headers=_auth(tokens[i % len(tokens)]), timeout=30)
        header = response.headers.get("Server-Timing", "")
        m = re.search(r'db;dur=([\d.]+);desc="(\d+) calls"', header)
        t = re.search(r"total;dur=([\d.]+)", header)
        if m:
            db_ms.append(float(m.group(1)))
            calls.append(int(m.group(2)))
        if t:
            total_ms.append(float(t.group(1)))
    mean = lambda xs: round(sum(xs) / len(xs), 2) if xs else None  # noqa: E731
    return {"requests": n, "sql_calls_per_write": mean(calls), "db_ms_per_write": mean(db_ms), "server_ms_per_write": mean(total_ms)}


def writes(ctx: Context) -> None:
    info, c = ctx.info, ctx.scale.write_connections
    reqs = _post_requests(info.writer_tokens)
    figures: dict = {"endpoint": "POST /api/v1/posts", "connections": c, "clients": len(info.writer_tokens)}
    runs = {}
    for label, port in (("events_on", namespace.WRITE_PORT), ("events_off", namespace.WRITE_NO_EVENTS_PORT)):
        figures.setdefault("idle_wait_s", {})[label] = wait_pipeline_idle()
        runs[label] = _run(f"write {label} (workers running)", port, reqs, c, ctx)
    figures["workers_running"] = runs
    from bench import worker_log

    time.sleep(1.0)
    figures["worker_tasks_during_events_on"] = worker_log.task_stats(runs["events_on"]["started_at"], runs["events_on"]["ended_at"])
    figures["idle_wait_s"]["after"] = wait_pipeline_idle()
    # The same pair with the Celery workers paused: the write path's own cost of events, without
    # the co-located workers competing for the same two cores.
    paused = {}
    ctx.procs.pause_workers()
    try:
        for label, port in (("events_on", namespace.WRITE_PORT), ("events_off", namespace.WRITE_NO_EVENTS_PORT)):
            paused[label] = _run(f"write {label} (workers paused)", port, reqs, c, ctx)
    finally:
        backlog = _sql("SELECT count(*) FROM outbox_outboxevent WHERE indexed_at IS NULL AND dead_at IS NULL")[0]
        ctx.procs.resume_workers()
    figures["workers_paused"] = paused
    figures["backlog_events_at_resume"] = backlog
    figures["backlog_drain_s_after_paused_run"] = wait_pipeline_idle(timeout=600)
    figures["server_timing"] = {"events_on": _server_timing(namespace.WRITE_PORT, info.writer_tokens),
                                "events_off": _server_timing(namespace.WRITE_NO_EVENTS_PORT, info.writer_tokens)}
    figures["cprofile_write_path"] = profile_write_path(ctx)
    figures["throughput_ratio"] = round(runs["events_on"]["rps"] / runs["events_off"]["rps"], 3)
    figures["throughput_ratio_workers_paused"] = round(paused["events_on"]["rps"] / paused["events_off"]["rps"], 3)
    ctx.figures["writes"] = figures
    wait_pipeline_idle()


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
        for label, port in (("pgbouncer_conn_max_age_0", namespace.WRITE_PORT),
                            ("direct_conn_max_age_0", namespace.WRITE_DIRECT_PORT),
                            ("direct_conn_max_age_60", namespace.WRITE_DIRECT_PERSISTENT_PORT),
                            ("pgbouncer_conn_max_age_60", namespace.WRITE_PGBOUNCER_PERSISTENT_PORT)):
            runs[label] = _run(f"write via {label} (workers paused)", port, reqs, c, ctx)
    finally:
        backlog = _sql("SELECT count(*) FROM outbox_outboxevent WHERE indexed_at IS NULL AND dead_at IS NULL")[0]
        ctx.procs.resume_workers()
    drain = wait_pipeline_idle(timeout=900)
    base = runs["pgbouncer_conn_max_age_0"]["rps"]
    ctx.figures["pgbouncer"] = {
        "endpoint": "POST /api/v1/posts", "connections": c, "workers": "paused", "runs": runs,
        "backlog_events_at_resume": backlog, "backlog_drain_s_after": drain,
        "pipeline_drain_events_per_second": round(backlog / drain, 1) if drain else None,
        "direct_vs_pgbouncer_throughput_ratio": round(runs["direct_conn_max_age_0"]["rps"] / base, 3) if base else None,
        "persistent_direct_vs_pgbouncer_throughput_ratio": round(runs["direct_conn_max_age_60"]["rps"] / base, 3) if base else None,
        "persistent_pgbouncer_vs_pgbouncer_throughput_ratio": round(runs["pgbouncer_conn_max_age_60"]["rps"] / base, 3) if base else None,
    }


# (6): hot counter ---------------------------------------------------------------------------------

def _comment_rows(post_id: int) -> tuple[int, int, int]:
    """(comment rows, comments_count, version) of one post, from the primary."""
    rows = _sql("SELECT count(*) FROM discussions_comment WHERE post_id = %s AND deleted_at IS NULL", [post_id])[0]
    count, version = _sql("SELECT comments_count, version FROM discussions_post WHERE id = %s", [post_id])
    return rows, count, version


def hot_counter(ctx: Context) -> None:
    from shared.es_client import get_es_client
    from shared.indexes import POSTS

    info, n, c = ctx.info, ctx.scale.hot_comments, ctx.scale.hot_connections
    body = json.dumps({"body": "+1, same here."})
    figures: dict = {"comments_per_run": n, "connections": c, "clients": len(info.writer_tokens)}
    for kind, port in (("naive", namespace.WRITE_NAIVE_PORT), ("pipeline", namespace.WRITE_PORT)):
        post_id = info.hot_posts[kind]
        figures.setdefault("idle_wait_s", {})[kind] = wait_pipeline_idle(timeout=600)
        rows0, count0, version0 = _comment_rows(post_id)
        reqs = [Request("POST", f"/api/v1/posts/{post_id}/comments", {**_auth(t), "Content-Type": "application/json"}, body)
                for t in info.writer_tokens]
        before = database.statements_snapshot()
        run_started = time.time()
        max_id = _sql("SELECT COALESCE(MAX(id), 0) FROM discussions_comment")[0]
        load = run_wrk(f"hot counter {kind}", namespace.url(port), reqs, connections=c, duration=ctx.scale.duration,
                       quota=n, cpu_groups=ctx.procs.groups()).as_dict()
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
        first, last = _sql("SELECT MIN(created_at), MAX(created_at) FROM discussions_comment WHERE post_id = %s AND id > %s",
                           [post_id, max_id])
        span = (last - first).total_seconds() if first and last else 0.0
        exact_after = 0.0
        if kind == "pipeline":  # the counter is exact once the pipeline has flushed
            deadline = time.monotonic() + 300
            while count1 != rows1 and time.monotonic() < deadline:
                time.sleep(0.1)
                rows1, count1, version1 = _comment_rows(post_id)
            exact_after = round(time.monotonic() - acked_at, 2)
        run = {
            "post_id": post_id, "load": load, "committed_comments": committed,
            "comments_per_second": round((committed - 1) / span, 1) if span > 0 else None,
            "first_to_last_commit_s": round(span, 2),
            "comments_count": count1, "comment_rows": rows1, "exact": count1 == rows1,
            "seconds_until_exact_after_last_ack": exact_after,
            "naive_update_statements": database.calls_matching(
                before, after, 'UPDATE "discussions_post" SET "comments_count" = ("discussions_post"."comments_count" +'),
            "pipeline_counter_updates_on_row": version1 - version0,  # every pipeline UPDATE bumps version by 1
            "sql_during_run": database.statements_delta(before, after, top=5),
        }
        if kind == "pipeline":
            from bench import worker_log

            run["worker_tasks"] = worker_log.task_stats(run_started, time.time())
        run["updates_on_hot_row"] = run["naive_update_statements"] if kind == "naive" else run["pipeline_counter_updates_on_row"]
        print(f"  hot counter {kind:<31} {run['comments_per_second']:>9} comments/s  count {count1}/{rows1}"
              f"  UPDATEs on the row {run['updates_on_hot_row']}  exact after {exact_after}s", flush=True)
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
    figures["speedup"] = round(pipe["comments_per_second"] / naive["comments_per_second"], 3)
    figures["exact"] = bool(naive["exact"] and pipe["exact"] and searchable is not None)
    figures["pipeline_updates_per_comment"] = round(pipe["updates_on_hot_row"] / max(1, pipe["committed_comments"]), 5)
    ctx.figures["hot_counter"] = figures


# (4): commit-to-searchable lag --------------------------------------------------------------------

def lag(ctx: Context) -> None:
    from django_redis import get_redis_connection

    from bench import cpu, worker_log
    from read_indexer import lag as pipeline_lag
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
        "write_url": namespace.url(namespace.WRITE_PORT), "es_url": namespace.ES_URL,
        "aliases": {"posts": POSTS.alias, "attempts": ATTEMPTS.alias},
        "post_tokens": ctx.info.writer_tokens, "submit_jobs": ctx.info.submit_jobs, "submit_share": LAG_SUBMIT_SHARE,
        "top_assessment": ctx.info.top_assessment,
        "phases": phases, "poll_interval": 0.05, "settle_timeout": 120 if s.name == "small" else 900,
    }
    started = time.time()
    with cpu.Sampler(ctx.procs.groups()) as sampler:
        completed = subprocess.run([namespace.PYTHON, "-m", "bench.lag_probe"], input=json.dumps(spec), capture_output=True,
                                   text=True, cwd=namespace.ROOT, env=_env(), timeout=3600)
    if completed.returncode != 0:
        raise RuntimeError(f"bench.lag_probe failed: {completed.stderr[-2000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    # The pipeline's own view (read_indexer.lag): transaction start -> bulk indexed (before refresh).
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
        p["mix"] = {"writes": writes, "posts": p["acknowledged"]["posts"], "submissions": submitted,
                    "submission_share": round(submitted / writes, 3) if writes else None,
                    "submissions_on_top_assessment": p["submissions_on_top_assessment"],
                    "top_assessment_share_of_submissions": round(p["submissions_on_top_assessment"] / submitted, 3) if submitted else None}
        print(f"  lag {phase:<39} searchable p50 {p['lag_seconds']['p50']} s  p99 {p['lag_seconds']['p99']} s"
              f"  (pipeline p99 {p['pipeline_lag_seconds']['p99']} s, {p['achieved_rate']} writes/s; "
              f"{submitted}/{writes} submissions, {p['submissions_on_top_assessment']} on the top assessment)", flush=True)
    result["pipeline_lag_percentiles_whole_run"] = pipeline_lag.percentiles(window_seconds=time.time() - started + 1)
    result["drain_s_after"] = wait_pipeline_idle(timeout=900)
    result["workload"] = {"submit_share": LAG_SUBMIT_SHARE, "top_assessment_share_planned": LAG_SUBMIT_TOP_SHARE,
                          "top_assessment": ctx.info.top_assessment,
                          "top_assessment_submitted_at_seed": ctx.info.top_assessment_submitted,
                          "other_writes": "POST /api/v1/posts", "submissions": "POST /api/v1/attempts/<id>/submit"}
    ctx.figures["lag"] = result


# Documents written per submission ---------------------------------------------------------------

def _index_writes(es, alias: str) -> dict:
    """Elasticsearch's own indexing stats of the physical index behind `alias` (primaries)."""
    stats = es.indices.stats(index=alias, metric="indexing").body
    indexing = stats["_all"]["primaries"]["indexing"]
    return {"indices": sorted(stats["indices"]), "index_total": indexing["index_total"],
            "index_failed": indexing.get("index_failed", 0)}


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
        response = session.post(namespace.url(namespace.WRITE_PORT) + f"/api/v1/attempts/{attempt_id}/submit",
                                json={"score": f"{40 + k % 60}.5"}, headers=_auth(token), timeout=30)
        if response.status_code >= 300:
            errors.append(f"{response.status_code} {response.text[:200]}")
        else:
            submitted.append(attempt_id)
    write_s = time.monotonic() - started
    ids, searchable_s = [str(a) for a in submitted], None
    while time.monotonic() - started < 300:
        found = es.count(index=ATTEMPTS.alias, query={"bool": {"filter": [
            {"ids": {"values": ids}}, {"term": {"status": "submitted"}}]}})["count"]
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
    board_es = es.count(index=ATTEMPTS.alias, query={"bool": {"filter": [
        {"term": {"assessment": top}}, {"term": {"status": "submitted"}}, {"term": {"deleted": False}}]}})["count"]
    figures = {
        "assessment_id": top, "leaderboard_size_before": board_before,
        "leaderboard_size_after": _sql("SELECT submitted_count FROM assessments_assessment WHERE id = %s", [top])[0],
        "leaderboard_size_in_search_index": board_es,
        "submissions": n, "errors": len(errors), "error_samples": errors[:3],
        "sequential_writes_seconds": round(write_s, 2), "all_searchable_after_s": searchable_s,
        "idle_wait_before_s": idle_wait, "drain_after_s": round(drain, 2),
        "attempt_document_writes": written["attempts"], "assessment_document_writes": written["assessments"],
        "attempt_document_writes_per_submission": round(written["attempts"] / n, 3) if n else None,
        "assessment_document_writes_per_submission": round(written["assessments"] / n, 3) if n else None,
        "index_failed_delta": {k: after[k]["index_failed"] - before[k]["index_failed"] for k in before},
        "physical_indexes": {k: after[k]["indices"] for k in after},
        "how": "GET <alias>/_stats/indexing, primaries.indexing.index_total, before and after, pipeline idle both times",
    }
    print(f"  {n} submissions on a {board_before:,}-attempt leaderboard: {figures['attempt_document_writes_per_submission']} "
          f"attempt documents and {figures['assessment_document_writes_per_submission']} assessment documents written "
          f"per submission (all searchable after {searchable_s} s)", flush=True)
    ctx.figures["documents_per_submission"] = figures


# (5): reindex vs raw parallel bulk -------------------------------------------------------------

def reindex(ctx: Context) -> None:
    from elasticsearch import helpers

    from read_indexer import index_lifecycle
    from read_indexer.projections import PROJECTIONS
    from shared.es_client import get_es_client
    from shared.indexes import ATTEMPTS

    s = ctx.scale
    wait_pipeline_idle()
    before = database.statements_snapshot()
    started = time.monotonic()
    completed = subprocess.run(
        [namespace.PYTHON, "manage.py", "reindex", "attempts", "--workers", str(s.reindex_workers),
         "--batch-size", str(s.reindex_batch_size)], capture_output=True, text=True, cwd=namespace.ROOT, env=_env(), timeout=7200)
    wall = time.monotonic() - started
    after = database.statements_snapshot()
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py reindex failed: {completed.stderr[-2000:]}")
    m = re.search(r"loaded ([\d,]+) documents in ([\d.]+) s \(([\d,]+) docs/s\)", completed.stdout)
    if not m:
        raise RuntimeError(f"unexpected reindex output: {completed.stdout[-1000:]}")
    documents, load_s = int(m.group(1).replace(",", "")), float(m.group(2))
    reindex_fig = {"command": f"manage.py reindex attempts --workers {s.reindex_workers} --batch-size {s.reindex_batch_size}",
                   "documents": documents, "load_seconds": load_s, "docs_per_second": round(documents / load_s, 1),
                   "wall_seconds": round(wall, 2), "summary": m.group(0),
                   "sql_during_reindex": database.statements_delta(before, after, top=5)}
    print(f"  {'reindex attempts (load phase)':<44} {reindex_fig['docs_per_second']:>9} docs/s", flush=True)

    # The same documents, projected and serialised before the clock starts.
    prepared_started = time.monotonic()
    target = index_lifecycle.create_physical_index(ATTEMPTS, bulk_load=True)
    actions: list[tuple[bytes, bytes]] = []
    projection = PROJECTIONS["attempts"]
    for ids in projection.walk_pages(after_key=0, batch_size=s.reindex_batch_size):
        for doc in projection.project(ids):
            actions.append((orjson.dumps({"index": {"_index": target, "_id": str(doc.id), "version": doc.version,
                                                    "version_type": "external_gte"}}), orjson.dumps(doc.source)))
    prepare_s = time.monotonic() - prepared_started
    es = get_es_client()
    try:
        started = time.monotonic()
        indexed = 0
        for ok, item in helpers.parallel_bulk(es, actions, thread_count=s.reindex_workers, chunk_size=s.reindex_batch_size,
                                              expand_action_callback=lambda pair: pair, raise_on_error=True):
            indexed += ok
        raw_s = time.monotonic() - started
    finally:
        es.indices.delete(index=target, ignore_unavailable=True)
    raw_fig = {"documents": indexed, "seconds": round(raw_s, 2), "docs_per_second": round(indexed / raw_s, 1),
               "thread_count": s.reindex_workers, "chunk_size": s.reindex_batch_size,
               "prepare_seconds_not_counted": round(prepare_s, 2)}
    print(f"  {'raw parallel_bulk, pre-serialised':<44} {raw_fig['docs_per_second']:>9} docs/s", flush=True)
    ctx.figures["reindex"] = {"reindex": reindex_fig, "raw_parallel_bulk": raw_fig,
                              "ratio": round(reindex_fig["docs_per_second"] / raw_fig["docs_per_second"], 3)}
    wait_pipeline_idle()


def _many(query: str, params: list | None = None) -> list[tuple]:
    with connections["default"].cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall()


def profile_write_path(ctx: Context, requests_per_mode: int = 100) -> dict:
    """cProfile of POST /api/v1/posts in this process (Django test client, real PostgreSQL, Redis,
    broker), events on and off: where the events' extra time goes on the write path."""
    import cProfile
    import pstats

    from django.test import Client
    from django.test.utils import override_settings

    client = Client(HTTP_AUTHORIZATION=f"Token {ctx.info.writer_tokens[0]}")
    body = {"title": "Profiled post", "body": "Measuring the write path.", "tags": ["bench"]}
    out = {}
    for label, enabled in (("events_on", True), ("events_off", False)):
        with override_settings(OUTBOX_EVENTS_ENABLED=enabled):
            for _ in range(5):
                client.post("/api/v1/posts", body, content_type="application/json")
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            for _ in range(requests_per_mode):
                response = client.post("/api/v1/posts", body, content_type="application/json")
            profiler.disable()
            elapsed = time.perf_counter() - started
        assert response.status_code == 201, response.content[:300]
        stats = pstats.Stats(profiler).stats
        interesting = ("publish_event_ids", "schedule_counters_flush", "send_task", "record_event", "_create",
                       "execute", "commit", "post_create", "authenticate")
        rows = []
        for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.items():
            if name in interesting and ("site-packages" not in filename or name in ("send_task", "commit")):
                rows.append({"function": f"{filename.split('/')[-2]}/{filename.split('/')[-1]}:{line}({name})",
                             "calls_per_request": round(calls / requests_per_mode, 2),
                             "cum_ms_per_request": round(cumtime * 1000 / requests_per_mode, 3)})
        rows.sort(key=lambda r: -r["cum_ms_per_request"])
        out[label] = {"requests": requests_per_mode, "ms_per_request_in_process": round(elapsed * 1000 / requests_per_mode, 3),
                      "functions": rows[:12]}
    return out
