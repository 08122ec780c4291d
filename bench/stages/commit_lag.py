"""Stage `lag`: commit-to-searchable lag of API writes (bench/lag_probe.py in a separate process),
light, steady and burst phases, beside the pipeline's own lag samples."""

from __future__ import annotations

import time

from bench import cpu, namespace
from bench.stages.context import BENCH_IDLE_TIMEOUT, StageContext, run_json_process
from read_indexer.operations import pipeline_status

# The lag workload: a third of the writes are submissions, most of them on the largest
# leaderboard (the top assessment); the rest are new posts.
LAG_SUBMIT_SHARE = 1 / 3
LAG_SUBMIT_TOP_SHARE = 0.8


def run(ctx: StageContext) -> None:
    from django_redis import get_redis_connection

    from bench import worker_log
    from read_indexer.observability import lag as pipeline_lag
    from shared.indexes import ATTEMPTS, POSTS

    s = ctx.scale
    pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
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
        result = run_json_process("bench.lag_probe", spec, timeout=3600)
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
    result["drain_s_after"] = pipeline_status.wait_until_idle(timeout=900)
    result["workload"] = {
        "submit_share": LAG_SUBMIT_SHARE,
        "top_assessment_share_planned": LAG_SUBMIT_TOP_SHARE,
        "top_assessment": ctx.info.top_assessment,
        "top_assessment_submitted_at_seed": ctx.info.top_assessment_submitted,
        "other_writes": "POST /api/v1/posts",
        "submissions": "POST /api/v1/attempts/<id>/submit",
    }
    ctx.figures["lag"] = result
