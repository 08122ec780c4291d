"""Stage `pgbouncer`: the write workload through pgBouncer or straight to the primary, with
per-request or persistent Django connections."""

from __future__ import annotations

from bench import database, namespace
from bench.stages.context import BENCH_IDLE_TIMEOUT, StageContext, measure
from bench.stages.write_capture import post_requests
from read_indexer.operations import pipeline_status


def run(ctx: StageContext) -> None:
    """The same write endpoint and workload as writes(), through pgBouncer or straight to the
    primary, with per-request or persistent Django connections. Workers paused: the connection
    cost alone, without the co-located pipeline's CPU noise (its backlog drains afterwards)."""
    info, c = ctx.info, ctx.scale.write_connections
    reqs = post_requests(info.writer_tokens)
    runs = {}
    pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    ctx.procs.pause_workers()
    try:
        for label, port in (
            ("pgbouncer_conn_max_age_0", namespace.WRITE_PORT),
            ("direct_conn_max_age_0", namespace.WRITE_DIRECT_PORT),
            ("direct_conn_max_age_60", namespace.WRITE_DIRECT_PERSISTENT_PORT),
            ("pgbouncer_conn_max_age_60", namespace.WRITE_PGBOUNCER_PERSISTENT_PORT),
        ):
            runs[label] = measure(f"write via {label} (workers paused)", port, reqs, c, ctx)
    finally:
        backlog = database.unindexed_events()
        ctx.procs.resume_workers()
    drain = pipeline_status.wait_until_idle(timeout=900)
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
