"""Before each measured stage: wait for a quiet machine (no pipeline backlog, no Elasticsearch merge,
little CPU in use), up to the scale's idle_timeout."""

from __future__ import annotations

import os
import time

from bench import namespace
from bench.stages.context import StageContext
from read_indexer.operations import pipeline_status

QUIET_CPU_SHARE = 0.25  # of all cores
QUIET_SECONDS = 3  # consecutive 1 s windows


def _merges_running(es) -> tuple[int, int]:
    """(merges running on the node, of which on the bench's indexes)."""
    nodes = es.nodes.stats(metric="indices", index_metric="merge").body["nodes"]
    bench = es.indices.stats(index=f"{namespace.ENV['ES_INDEX_PREFIX']}*", metric="merge").body
    return (
        sum(node["indices"]["merges"]["current"] for node in nodes.values()),
        bench["_all"]["total"]["merges"]["current"],
    )


def wait_for_quiet(ctx: StageContext, stage: str) -> dict:
    """Before a measured stage: wait until the pipeline has no backlog, Elasticsearch runs no merge
    (node-wide: other engineers' indexes share the node and the cores) and the machine's CPU busy
    share is below QUIET_CPU_SHARE for QUIET_SECONDS consecutive 1 s windows. After the scale's
    idle_timeout the stage runs anyway; figures.idle_waits[stage] records how it started."""
    from bench.cpu import busy_share, machine_busy
    from shared.es_client import get_es_client

    es = get_es_client()
    started, timeout = time.monotonic(), ctx.scale.idle_timeout
    record = {"loadavg_at_start": round(os.getloadavg()[0], 2), "timeout_s": timeout}
    quiet_windows, before = 0, machine_busy()
    while quiet_windows < QUIET_SECONDS and time.monotonic() - started < timeout:
        time.sleep(1)
        after = machine_busy()
        share = round(busy_share(before, after), 3)
        before = after
        node_merges, bench_merges = _merges_running(es)
        pipeline_busy = not pipeline_status.idle()
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
