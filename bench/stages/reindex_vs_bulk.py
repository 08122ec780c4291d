"""Stage `reindex`: manage.py reindex against a raw parallel bulk of the same documents, then
manage.py verify; each from the replica and from the primary."""

from __future__ import annotations

import re
import subprocess
import time

import orjson

from bench import cpu, database, namespace
from bench.stages.context import BENCH_IDLE_TIMEOUT, StageContext, namespace_env
from read_indexer.operations import pipeline_status


def run(ctx: StageContext) -> None:
    runs = {}
    for source in ("replica", "primary"):  # the same rebuild, heavy reads off the primary or on it
        pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
        runs[source] = _reindex_run(ctx, primary_only=source == "primary")
        print(
            f"  {f'reindex attempts from the {source} (load phase)':<44} {runs[source]['docs_per_second']:>9} docs/s; "
            f"primary CPU {runs[source]['cpu']['cpu_seconds'].get('postgresql primary', 0)} s",
            flush=True,
        )
    reindex_fig = runs["replica"]
    raw_fig = _raw_parallel_bulk(ctx)
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
        pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
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
    pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)


def _bulk_actions(target: str, batch_size: int) -> list[tuple[bytes, bytes]]:
    """Every attempt document as (action line, source) bytes for `target`, as the reindex writes them."""
    from write_service.read_model.projections import PROJECTIONS

    actions: list[tuple[bytes, bytes]] = []
    projection = PROJECTIONS["attempts"]
    for ids in projection.walk_pages(after_key=0, batch_size=batch_size):
        for doc in projection.project(ids):
            action = {"_index": target, "_id": str(doc.id), "version": doc.version, "version_type": "external_gte"}
            actions.append((orjson.dumps({"index": action}), doc.body))
    return actions


def _raw_parallel_bulk(ctx: StageContext) -> dict:
    """The same documents, projected and serialised before the clock starts, into a fresh index
    with the same bulk-load settings, threads and chunk size."""
    from elasticsearch import helpers

    from read_indexer.lifecycle import index_lifecycle
    from shared.es_client import get_es_client
    from shared.indexes import ATTEMPTS

    s = ctx.scale
    prepared_started = time.monotonic()
    target = index_lifecycle.create_physical_index(ATTEMPTS, bulk_load=True)
    actions = _bulk_actions(target, s.reindex_batch_size)
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
    return {
        "documents": indexed,
        "seconds": round(raw_s, 2),
        "docs_per_second": round(indexed / raw_s, 1),
        "thread_count": s.reindex_workers,
        "chunk_size": s.reindex_batch_size,
        "prepare_seconds_not_counted": round(prepare_s, 2),
    }


def _manage(command: list[str], timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    """An operator command as an operator runs it, in the bench namespace: (its result, wall seconds)."""
    started = time.monotonic()
    completed = subprocess.run(
        [namespace.PYTHON, *command],
        capture_output=True,
        text=True,
        cwd=namespace.ROOT,
        env=namespace_env(),
        timeout=timeout,
    )
    return completed, time.monotonic() - started


def _reindex_run(ctx: StageContext, *, primary_only: bool) -> dict:
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
    completed, wall = _manage(command, timeout=7200)
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


def _verify_run(ctx: StageContext, *, primary_only: bool) -> dict:
    command = ["manage.py", "verify", "attempts", "--json", *(["--primary"] if primary_only else [])]
    cpu_before = cpu.snapshot(ctx.procs.groups())
    completed, wall = _manage(command, timeout=3600)
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
