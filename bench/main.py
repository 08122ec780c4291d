"""`bench/run --scale small|full`: seed, start the namespace's processes, run every stage side by
side, print the table, write bench/results/latest.json (or --output). See bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from bench import namespace

REQUIRED_FILES = {
    "search API": namespace.ROOT / "search_api" / "wsgi.py",
    "reindex command": namespace.ROOT / "read_indexer" / "management" / "commands" / "reindex.py",
}

# (key for --only and the results, title, module of bench/stages, what it needs of REQUIRED_FILES)
STAGES = (
    ("reads", "(1) search API vs Django ORM lists", "reads_vs_orm", "search API"),
    ("raw_es", "(2) search API vs raw Elasticsearch", "api_vs_raw_es", "search API"),
    ("suggest", "search-as-you-type suggestions", "suggest", "search API"),
    ("newest_first", "newest-first attempts pages: unsorted vs sorted attempts index", "newest_first", None),
    (
        "writes",
        "(3) write endpoint with change capture on vs off (same instance, triggers toggled)",
        "write_capture",
        None,
    ),
    ("pgbouncer", "(7) pgBouncer vs direct connections", "pgbouncer", None),
    ("hot_counter", "(6) hot counter: pipeline vs naive UPDATE", "hot_counter", None),
    ("doc_writes", "documents written per submission (largest leaderboard)", "documents_per_submission", None),
    ("lag", "(4) commit-to-searchable lag", "commit_lag", None),
    ("raw_sql_lag", "commit-to-searchable lag of plain-SQL writes on the primary", "raw_sql_lag", None),
    (
        "consistency",
        "read your own writes: waiting writes, reads with a token, the feature present vs absent",
        "read_your_writes",
        "search API",
    ),
    ("reindex", "(5) reindex vs the raw loader", "reindex_vs_bulk", "reindex command"),
)


def _stage(name: str) -> float:
    print(f"\n== {name}", flush=True)
    return time.monotonic()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--scale", choices=("small", "full"), required=True)
    parser.add_argument("--output", type=Path, default=namespace.ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--only", default="", help="comma-separated subset: " + ",".join(s[0] for s in STAGES))
    return parser.parse_args(argv)


def _reset_namespace(procs, seconds: dict) -> None:
    from bench import database

    t = _stage(
        f"reset the bench namespace (database {namespace.ENV['PG_DB']}, indexes "
        f"{namespace.ENV['ES_INDEX_PREFIX']}*, "
        f"Redis {namespace.ENV['REDIS_DB_BROKER']}/{namespace.ENV['REDIS_DB_CACHE']})"
    )
    procs.stop_leftovers()  # an interrupted run's processes would hold the database and the ports
    database.reset_namespace()
    database.migrate_and_create_indexes()
    seconds["reset_and_migrate"] = round(time.monotonic() - t, 2)


def _seed(scale, seconds: dict):
    """Rows, tokens and their documents: (SeedInfo, the projection's figures)."""
    from bench import seed
    from bench.stages import commit_lag, documents_per_submission

    t = _stage(f"seed ({scale.attempts:,} attempts, {scale.assessments:,} assessments, {scale.posts:,} posts)")
    info = seed.generate_and_copy(scale)
    lag_writes = (
        25 * max(4, scale.lag_steady_seconds / 3) + scale.lag_rate * scale.lag_steady_seconds + scale.lag_burst_writes
    )
    seed.issue_tokens(
        info,
        submit_jobs_needed=int(commit_lag.LAG_SUBMIT_SHARE * lag_writes) + 50,
        top_share=commit_lag.LAG_SUBMIT_TOP_SHARE,
        doc_write_jobs=documents_per_submission.DOC_WRITE_SUBMISSIONS,
    )
    projection = seed.project_all(info, scale.seed_processes)
    seconds["seed"] = round(time.monotonic() - t, 2)
    print(
        f"  rows {info.counts}; COPY {info.seconds['generate_and_copy']:.1f} s; projected "
        f"{projection['documents']:,} documents in {projection['seconds']} s ({projection['docs_per_second']} "
        f"docs/s); forcemerge {projection['forcemerge']}",
        flush=True,
    )
    return info, projection


def _run_stages(ctx, selected: set[str], seconds: dict) -> None:
    """Each selected stage after a quiet start; a failing one is reported as not run, with the reason."""
    from bench.stages import quiet_start

    for key, title, module, needs in STAGES:
        if selected and key not in selected:
            continue
        if needs and needs in ctx.not_run:
            print(f"\n== {title}: NOT RUN ({ctx.not_run[needs]})", flush=True)
            ctx.not_run[key] = ctx.not_run[needs]
            continue
        _stage(title)
        quiet_start.wait_for_quiet(ctx, key)
        t = time.monotonic()
        try:
            importlib.import_module(f"bench.stages.{module}").run(ctx)
        except Exception as exc:  # one failing stage must not lose the others
            traceback.print_exc()
            ctx.not_run[key] = f"failed: {type(exc).__name__}: {exc}"[:500]
        seconds[key] = round(time.monotonic() - t, 2)


def _capture_at_end() -> dict:
    """Stages re-enable capture themselves (database.capture_disabled); this catches an interrupt
    between the two ALTERs, so the bench database is never left without capture."""
    from bench import database

    try:
        capture = database.ensure_capture_enabled()
    except Exception as exc:
        traceback.print_exc()
        capture = {"enabled": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    if capture.get("reenabled") or not capture.get("enabled"):
        print(f"capture triggers at the end of the run: {capture}", flush=True)
    return capture


def _results(scale, figures: dict, not_run: dict, capture_at_end: dict, timing: dict) -> dict:
    from bench import report

    values = report.headline(figures)
    return {
        "scale": scale.name,
        **values,
        "targets_met": report.target_status(values),
        "targets": {k: f"{op} {bound}" for k, (op, bound) in report.TARGETS.items()},
        "not_run": not_run,
        "capture_triggers_at_end": capture_at_end,
        **timing,
        "machine": report.machine(),
        "scale_parameters": scale.__dict__,
        "namespace": namespace.ENV,
        "figures": figures,
    }


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    namespace.apply()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.base")
    import django

    django.setup()
    from bench import report
    from bench.processes import ProcessSet
    from bench.scales import SCALES
    from bench.stages.context import StageContext

    scale = SCALES[args.scale]
    started_at, run_started = datetime.now(UTC), time.monotonic()
    procs, seconds = ProcessSet(), {}
    not_run = {
        what: f"{path.relative_to(namespace.ROOT)} does not exist yet"
        for what, path in REQUIRED_FILES.items()
        if not path.exists()
    }
    ctx, database_ready, capture_at_end = None, False, {"enabled": None, "reenabled": False}
    try:
        _reset_namespace(procs, seconds)
        database_ready = True
        info, projection = _seed(scale, seconds)
        t = _stage("start processes (stack/apps.sh under STACK_NAMESPACE=bench, and the baselines' Gunicorn instances)")
        procs.start_apps()
        procs.start_extra()
        seconds["start_processes"] = round(time.monotonic() - t, 2)
        ctx = StageContext(scale=scale, info=info, procs=procs, not_run=not_run)
        ctx.figures["seed"] = {
            "counts": info.counts,
            "top_assessment_submitted": info.top_assessment_submitted,
            "copy_seconds": info.seconds,
            "projection": projection,
        }
        _run_stages(ctx, {s for s in args.only.split(",") if s}, seconds)
    finally:
        if database_ready:
            capture_at_end = _capture_at_end()
        t = time.monotonic()
        procs.stop_all()
        seconds["stop_processes"] = round(time.monotonic() - t, 2)

    timing = {
        "started_at": started_at.isoformat(),
        "duration_seconds": round(time.monotonic() - run_started, 1),
        "stage_seconds": seconds,
    }
    results = _results(scale, ctx.figures if ctx else {}, not_run, capture_at_end, timing)
    print("\n" + report.table(results), flush=True)
    report.write_json(results, args.output)
    print(f"\nwrote {args.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
