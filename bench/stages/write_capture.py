"""Stage `writes`: POST /api/v1/posts on one write instance with the capture triggers on and off,
each mode twice in ABBA order, with the workers running and paused."""

from __future__ import annotations

import json
import re
import time

import requests

from bench import cpu, database, namespace
from bench.loadgen import Request
from bench.stages import write_profile
from bench.stages.context import BENCH_IDLE_TIMEOUT, StageContext, auth_header, measure
from bench.stages.write_capture_pooling import cpu_per_write, difference, pair_ratios, pool_cpu, pool_runs
from read_indexer.operations import pipeline_status


def post_requests(tokens: list[str]) -> list[Request]:
    body = json.dumps({"title": "Benchmark post", "body": "Measuring the write path. " * 4, "tags": ["bench"]})
    return [
        Request("POST", "/api/v1/posts", {**auth_header(t), "Content-Type": "application/json"}, body) for t in tokens
    ]


def _server_timing(port: int, tokens: list[str], n: int = 20) -> dict:
    """Mean of the Server-Timing header over n sequential requests: SQL calls and time per write."""
    session = requests.Session()
    calls, db_ms, total_ms = [], [], []
    body = {"title": "Timing probe", "body": "x", "tags": ["bench"]}
    for i in range(n):
        response = session.post(
            namespace.url(port) + "/api/v1/posts", json=body, headers=auth_header(tokens[i % len(tokens)]), timeout=30
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


# ABBA: each mode runs twice, the order mirrored, so a drift of the machine's other load over the
# stage weighs on both modes alike; each mode's figures pool its two runs.
RUNNING_ORDER = ("capture_on", "capture_off", "capture_off", "capture_on")
PAUSED_ORDER = ("capture_off", "capture_on", "capture_on", "capture_off")


def run(ctx: StageContext) -> None:
    """POST /api/v1/posts on the same write instance (stack/apps.sh "write", WRITE_PORT), with the
    capture triggers on (the product) and off (database.capture_disabled: no outbox row, no
    NOTIFY, nothing for the listener or the workers to do), each mode twice in ABBA order.
    Workers running (the headline: the pipeline shares the two cores) and paused (SIGSTOP: the
    write path's own cost; the listener keeps forwarding). Per run: the outbox rows the writes
    recorded (0 with capture off proves the toggle), CPU per write per component, mean latency;
    then the Server-Timing sample and cProfile of both modes. Writes made with capture off are
    never indexed (their posts stay out of the search index); no later stage reads them."""
    from bench import worker_log

    info, c = ctx.info, ctx.scale.write_connections
    reqs = post_requests(info.writer_tokens)
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
    running, drained = _runs_with_workers_running(ctx, reqs, figures)
    time.sleep(1.0)
    on_runs = [r for m, r in zip(RUNNING_ORDER, running, strict=True) if m == "capture_on"]
    figures["worker_tasks_during_capture_on"] = [worker_log.task_stats(r["started_at"], r["ended_at"]) for r in on_runs]
    paused_runs = _runs_with_workers_paused(ctx, reqs, figures)
    figures["workers_running"] = _by_mode(RUNNING_ORDER, running)
    figures["workers_paused"] = _by_mode(PAUSED_ORDER, paused_runs)
    timing = {}
    for mode in database.CAPTURE_MODES:
        with database.capture_mode(mode):
            timing[mode] = _server_timing(namespace.WRITE_PORT, info.writer_tokens)
    figures["server_timing"] = timing
    figures["cprofile_write_path"] = write_profile.profile_write_path(ctx)
    pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    figures["capture"] = _capture_figures(figures, running, paused_runs, _until_drained(drained))
    if figures["capture"]["capture_verified"]["outbox_rows_capture_off"]:
        raise RuntimeError(
            f"capture was not off: {figures['capture']['capture_verified']['outbox_rows_capture_off']} outbox rows "
            "recorded"
        )
    _print_summary(figures["capture"], c)
    ctx.figures["writes"] = figures


def _runs_with_workers_running(ctx: StageContext, reqs: list[Request], figures: dict) -> tuple[list, list]:
    """(each run's figures, each run's CPU from its first warm-up write until the pipeline is idle
    again: the whole cost of a write, the indexing it causes included)."""
    c = ctx.scale.write_connections
    running: list[dict] = []
    drained: list[dict] = []
    for k, mode in enumerate(RUNNING_ORDER, start=1):
        figures["idle_wait_s"].append(pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT))
        posts0, outbox0 = database.max_id("discussions_post"), database.max_id("outbox_outboxevent")
        before = cpu.snapshot(ctx.procs.groups())
        with database.capture_mode(mode) as toggled:
            if toggled:
                figures["capture_toggles"].append(toggled)
            run = measure(f"write {mode} #{k} (workers running)", namespace.WRITE_PORT, reqs, c, ctx)
            time.sleep(0.3)  # requests wrk abandoned in flight commit in this mode too
            run["outbox_rows_recorded"] = database.rows_since("outbox_outboxevent", outbox0)
        drain = pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
        run["posts_written_with_warmup"] = database.rows_since("discussions_post", posts0)
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
    return running, drained


def _runs_with_workers_paused(ctx: StageContext, reqs: list[Request], figures: dict) -> list[dict]:
    """The same with the Celery workers paused, one pause per run. Capture is toggled only while
    they run: a worker stopped inside a transaction would hold the lock ALTER TABLE waits for."""
    c = ctx.scale.write_connections
    paused_runs: list[dict] = []
    figures["backlog_events_at_resume"], figures["backlog_drain_s_after_paused_run"] = [], []
    for k, mode in enumerate(PAUSED_ORDER, start=1):
        outbox0 = database.max_id("outbox_outboxevent")
        with database.capture_mode(mode) as toggled:
            if toggled:
                figures["capture_toggles"].append(toggled)
            ctx.procs.pause_workers()
            try:
                run = measure(f"write {mode} #{k} (workers paused)", namespace.WRITE_PORT, reqs, c, ctx)
                time.sleep(0.3)
                run["outbox_rows_recorded"] = database.rows_since("outbox_outboxevent", outbox0)
            finally:
                figures["backlog_events_at_resume"].append(database.unindexed_events())
                ctx.procs.resume_workers()
        paused_runs.append(run)
        figures["backlog_drain_s_after_paused_run"].append(pipeline_status.wait_until_idle(timeout=600))
    return paused_runs


def _by_mode(order: tuple[str, ...], runs: list[dict]) -> dict:
    return {m: pool_runs([r for o, r in zip(order, runs, strict=True) if o == m]) for m in database.CAPTURE_MODES}


def _until_drained(drained: list[dict]) -> dict:
    until_drained = {}
    for mode in database.CAPTURE_MODES:
        mine = [d for d in drained if d["mode"] == mode]
        n = sum(d["writes"] for d in mine)
        until_drained[mode] = {
            **pool_cpu(mine, n),
            "writes": n,
            "drain_s_after_run": [d["drain_s_after_run"] for d in mine],
        }
    return until_drained


def _capture_figures(figures: dict, running: list[dict], paused_runs: list[dict], until_drained: dict) -> dict:
    runs, paused, timing = figures["workers_running"], figures["workers_paused"], figures["server_timing"]
    on, off, pon, poff = runs["capture_on"], runs["capture_off"], paused["capture_on"], paused["capture_off"]
    return {
        "throughput_ratio": round(on["rps"] / off["rps"], 3) if off["rps"] else None,
        "throughput_ratio_workers_paused": round(pon["rps"] / poff["rps"], 3) if poff["rps"] else None,
        "pair_ratios": {
            "workers_running": pair_ratios(RUNNING_ORDER, running),
            "workers_paused": pair_ratios(PAUSED_ORDER, paused_runs),
        },
        "capture_verified": {
            "outbox_rows_per_write_capture_on": round(
                on["outbox_rows_recorded"] / max(1, on["posts_written_with_warmup"]), 3
            ),
            "outbox_rows_capture_off": off["outbox_rows_recorded"] + poff["outbox_rows_recorded"],
        },
        # Closed loop at `connections`: the mean is about connections / rps, queueing included.
        "mean_latency_ms": {
            "workers_running": difference(on, off, "mean_ms"),
            "workers_paused": difference(pon, poff, "mean_ms"),
        },
        # One client, sequential: the service's own time and its SQL time per write.
        "server_ms_per_write_sequential": difference(
            timing["capture_on"], timing["capture_off"], "server_ms_per_write"
        ),
        "db_ms_per_write_sequential": difference(timing["capture_on"], timing["capture_off"], "db_ms_per_write"),
        "sql_calls_per_write": difference(timing["capture_on"], timing["capture_off"], "sql_calls_per_write"),
        "cpu_ms_per_write": {
            "workers_running": cpu_per_write(on, off),
            "workers_paused": cpu_per_write(pon, poff),
            # From the first warm-up request until the pipeline is idle again (the indexing of every
            # write counted), over every post written.
            "workers_running_until_drained": {
                **cpu_per_write({"cpu": until_drained["capture_on"]}, {"cpu": until_drained["capture_off"]}),
                "writes": {m: until_drained[m]["writes"] for m in database.CAPTURE_MODES},
                "drain_s_after_run": {m: until_drained[m]["drain_s_after_run"] for m in database.CAPTURE_MODES},
            },
        },
    }


def _print_summary(cap: dict, connections: int) -> None:
    run_cpu, all_cpu = (
        cap["cpu_ms_per_write"]["workers_running"],
        cap["cpu_ms_per_write"]["workers_running_until_drained"],
    )
    print(
        f"  capture on/off: throughput ratio {cap['throughput_ratio']} (workers running; pairs "
        f"{cap['pair_ratios']['workers_running']}), "
        f"{cap['throughput_ratio_workers_paused']} (paused; pairs {cap['pair_ratios']['workers_paused']}); mean "
        "latency "
        f"+{cap['mean_latency_ms']['workers_running']['difference']} ms at {connections} connections; server time "
        f"+{cap['server_ms_per_write_sequential']['difference']} ms per write sequential; CPU per write "
        f"{run_cpu['capture_on']['total']} vs {run_cpu['capture_off']['total']} ms (workers running), "
        f"{all_cpu['capture_on']['total']} vs {all_cpu['capture_off']['total']} ms until drained",
        flush=True,
    )
