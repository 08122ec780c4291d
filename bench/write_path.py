"""The writes stage's measurement in any namespace, at small scale: POST /api/v1/posts with wrk
for a few seconds, then CPU ms per write per component from the first request until the
pipeline is idle again (the indexing each write causes included). For before/after comparisons
of a change on a developer's namespace, without bench/run (which owns the `bench` namespace).

usage (the namespace's processes already started with stack/apps.sh, its env exported):
  python -m bench.write_path --tokens tokens.json [--seconds 15] [--connections 8] [--label x]
Prints one JSON line: writes, rps, cpu_ms_per_write per component, drain seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

COMPONENTS = ("write", "worker-indexing", "worker-counters", "worker-fanout", "listener", "beat")


def namespace_groups() -> dict[str, int]:
    """Process group ids of the namespace's processes (stack/apps.sh starts each in its own session)."""
    from bench.namespace import STACK_HOME

    run_dir = STACK_HOME / "run" / os.environ["STACK_NAMESPACE"]
    groups = {}
    for name in COMPONENTS:
        try:
            groups[name] = int((run_dir / f"{name}.pid").read_text())
        except (OSError, ValueError):
            continue
    return groups


def posts_index_stats() -> dict:
    """The namespace's posts index's own counters (not the shared node's): bulk, refresh, flush, merge."""
    from shared.es_client import get_es_client

    alias = f"{os.environ.get('ES_INDEX_PREFIX', '')}posts"
    total = get_es_client().indices.stats(index=alias, metric="indexing,refresh,flush,merge,translog")["_all"][
        "primaries"
    ]
    return {
        "docs_indexed": total["indexing"]["index_total"],
        "index_ms": total["indexing"]["index_time_in_millis"],
        "refreshes": total["refresh"]["total"],
        "flushes": total["flush"]["total"],
        "merges": total["merges"]["total"],
    }


def measure(tokens: list[str], *, port: int, seconds: float, connections: int, label: str) -> dict:
    from bench import cpu, namespace, worker_log
    from bench.database import max_id, rows_since
    from bench.loadgen import run_wrk
    from bench.stages.context import BENCH_IDLE_TIMEOUT
    from bench.stages.write_capture import post_requests
    from read_indexer.operations import pipeline_status

    namespace.LOG_DIR = namespace.STACK_LOGS / os.environ["STACK_NAMESPACE"]  # worker_log reads this namespace's logs
    idle_wait = pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    groups = namespace_groups()
    posts0 = max_id("discussions_post")
    before, es_before = cpu.snapshot(groups), posts_index_stats()
    started, started_at = time.monotonic(), time.time()
    load = run_wrk(label, f"http://127.0.0.1:{port}", post_requests(tokens), connections=connections, duration=seconds)
    time.sleep(0.3)  # requests wrk abandoned in flight commit too
    drain = pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    writes = rows_since("discussions_post", posts0)
    figures = cpu.delta(before, cpu.snapshot(groups), writes)
    es_after = posts_index_stats()
    es = {k: es_after[k] - es_before[k] for k in es_after}
    tasks = worker_log.task_stats(started_at, time.time(), logs=("worker-indexing",)).get("project_events_task", {})
    indexing_cpu = figures["cpu_seconds"].get("worker-indexing", 0.0)
    return {
        "label": label,
        "writes": writes,
        "rps": round(load.rps, 1),
        "p50_ms": load.p50_ms,
        "errors": sum(load.errors.values()),
        "idle_wait_s": idle_wait,
        "drain_s": drain,
        "elapsed_s": round(time.monotonic() - started, 1),
        "cpu_ms_per_write": figures.get("cpu_ms_per_request", {}),
        "machine_busy_share": figures["machine_busy_share"],
        "indexing_tasks": tasks.get("tasks", 0),
        "indexing_worker_cpu_ms_per_task": round(indexing_cpu * 1000 / max(1, tasks.get("tasks", 0)), 2),
        # Elasticsearch's engine time per document of this index alone (the node is shared).
        "posts_index": {**es, "index_ms_per_doc": round(es["index_ms"] / max(1, es["docs_indexed"]), 3)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=Path, required=True, help="JSON list of API tokens that may create posts")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--label", default="writes")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.test")
    import django

    django.setup()
    from shared.config import load_config

    port = int(
        os.environ.get("TEST_WRITE_PORT") or load_config().write_port
    )  # apps.sh: TEST_WRITE_PORT under APP_ENV=test
    print(
        json.dumps(
            measure(
                json.loads(args.tokens.read_text()),
                port=port,
                seconds=args.seconds,
                connections=args.connections,
                label=args.label,
            )
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
