"""Stage `reindex`: manage.py reindex against the fastest raw loader of the same documents (two
interleaved pairs), then manage.py verify; each from the replica and from the primary."""

from __future__ import annotations

import re
import subprocess
import time

import orjson

from bench import cpu, database, namespace
from bench.stages.context import BENCH_IDLE_TIMEOUT, StageContext, namespace_env
from read_indexer.operations import pipeline_status


def run(ctx: StageContext) -> None:
    # Two interleaved pairs, reindex first then the raw loader first, so that a drift of the
    # machine over the stage weighs on both sides; the ratio is the mean of the pairs'.
    pairs = []
    for order in (("reindex", "raw"), ("raw", "reindex")):
        pair = {}
        for kind in order:
            pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
            pair[kind] = _reindex_run(ctx, primary_only=False) if kind == "reindex" else _raw_streaming_bulk(ctx)
            label = "reindex attempts from the replica" if kind == "reindex" else "raw loader: one scan + parallel_bulk"
            print(f"  {label:<44} {pair[kind]['docs_per_second']:>9} docs/s", flush=True)
        pair["ratio"] = round(pair["reindex"]["docs_per_second"] / pair["raw"]["docs_per_second"], 3)
        pairs.append(pair)
    pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    from_primary = _reindex_run(ctx, primary_only=True)  # the same rebuild with its heavy reads on the primary
    print(f"  {'reindex attempts from the primary':<44} {from_primary['docs_per_second']:>9} docs/s", flush=True)
    ratios = [pair["ratio"] for pair in pairs]
    runs = {"replica": pairs[0]["reindex"], "primary": from_primary}
    ctx.figures["reindex"] = {
        "reindex": pairs[0]["reindex"],
        "reindex_from_primary": from_primary,
        "raw_streaming_bulk": pairs[0]["raw"],
        "pairs": pairs,
        "ratio": round(sum(ratios) / len(ratios), 3),
        "ratio_spread": [min(ratios), max(ratios)],
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


def _raw_streaming_bulk(ctx: StageContext) -> dict:
    """The fastest loader we could write with the official client and PostgreSQL, its clock around
    all of it: one server-side cursor scanning the replica in id order, PostgreSQL rendering every
    document (the projection's own SQL, the bytes reindex writes), the official parallel_bulk
    sending them with reindex's threads and chunk size into a fresh index with the same bulk-load
    settings. Only the index's creation and deletion are outside the clock, as they are outside
    reindex's load phase."""
    from elasticsearch import helpers

    from read_indexer.lifecycle import index_lifecycle
    from shared.es_client import get_es_client
    from shared.indexes import ATTEMPTS
    from write_service.read_model.projections import PROJECTIONS

    s = ctx.scale
    target = index_lifecycle.create_physical_index(ATTEMPTS, bulk_load=True)
    es = get_es_client()
    conn = database.primary_connection(replica=True)

    def actions():
        with conn, conn.cursor(name="raw_bulk_scan") as cursor:  # a named cursor streams in a transaction
            cursor.itersize = s.reindex_batch_size
            cursor.execute(PROJECTIONS["attempts"].all_documents_sql())
            for row_id, version, body in cursor:
                action = {"_index": target, "_id": str(row_id), "version": version, "version_type": "external_gte"}
                yield orjson.dumps({"index": action}), body.encode()

    try:
        started = time.monotonic()
        indexed = 0
        for ok, _item in helpers.parallel_bulk(
            es,
            actions(),
            thread_count=s.reindex_workers,
            chunk_size=s.reindex_batch_size,
            expand_action_callback=lambda pair: pair,
            raise_on_error=True,
        ):
            indexed += ok
        raw_s = time.monotonic() - started
    finally:
        conn.close()
        es.indices.delete(index=target, ignore_unavailable=True)
    return {
        "documents": indexed,
        "seconds": round(raw_s, 2),
        "docs_per_second": round(indexed / raw_s, 1),
        "thread_count": s.reindex_workers,
        "chunk_size": s.reindex_batch_size,
        "reads": "one server-side cursor on the replica, rendered by PostgreSQL, inside the clock",
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
