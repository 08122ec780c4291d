"""`bench/run --scale small|full`: seed, start the namespace's processes, run every comparison side
by side, print the table, write bench/results/latest.json (or --output). See bench/README.md.
"""

from __future__ import annotations

import argparse
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


def _stage(name: str) -> float:
    print(f"\n== {name}", flush=True)
    return time.monotonic()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--scale", choices=("small", "full"), required=True)
    parser.add_argument("--output", type=Path, default=namespace.ROOT / "bench" / "results" / "latest.json")
    parser.add_argument(
        "--only",
        default="",
        help=(
            "comma-separated subset: "
            "reads,raw_es,suggest,writes,pgbouncer,hot_counter,doc_writes,lag,raw_sql_lag,reindex"
        ),
    )
    args = parser.parse_args(argv)

    namespace.apply()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.base")
    import django

    django.setup()
    from bench import comparisons, database, report, seed
    from bench.processes import ProcessSet
    from bench.scales import SCALES

    scale = SCALES[args.scale]
    started_at = datetime.now(UTC)
    run_started = time.monotonic()
    procs = ProcessSet()
    seconds: dict[str, float] = {}
    not_run: dict[str, str] = {}
    for what, path in REQUIRED_FILES.items():
        if not path.exists():
            not_run[what] = f"{path.relative_to(namespace.ROOT)} does not exist yet"
    selected = {s for s in args.only.split(",") if s}
    ctx = None
    database_ready = False
    capture_at_end: dict = {"enabled": None, "reenabled": False}
    try:
        t = _stage(
            f"reset the bench namespace (database {namespace.ENV['PG_DB']}, indexes "
            f"{namespace.ENV['ES_INDEX_PREFIX']}*, "
            f"Redis {namespace.ENV['REDIS_DB_BROKER']}/{namespace.ENV['REDIS_DB_CACHE']})"
        )
        procs.stop_leftovers()  # an interrupted run's processes would hold the database and the ports
        database.reset_namespace()
        database.migrate_and_create_indexes()
        database_ready = True
        seconds["reset_and_migrate"] = round(time.monotonic() - t, 2)

        t = _stage(f"seed ({scale.attempts:,} attempts, {scale.assessments:,} assessments, {scale.posts:,} posts)")
        info = seed.generate_and_copy(scale)
        lag_writes = (
            25 * max(4, scale.lag_steady_seconds / 3)
            + scale.lag_rate * scale.lag_steady_seconds
            + scale.lag_burst_writes
        )
        submits_needed = int(comparisons.LAG_SUBMIT_SHARE * lag_writes) + 50
        seed.issue_tokens(
            info,
            submit_jobs_needed=submits_needed,
            top_share=comparisons.LAG_SUBMIT_TOP_SHARE,
            doc_write_jobs=comparisons.DOC_WRITE_SUBMISSIONS,
        )
        projection = seed.project_all(info, scale.seed_processes)
        seconds["seed"] = round(time.monotonic() - t, 2)
        print(
            f"  rows {info.counts}; COPY {info.seconds['generate_and_copy']:.1f} s; projected "
            f"{projection['documents']:,} documents in {projection['seconds']} s ({projection['docs_per_second']} "
            "docs/s); "
            f"forcemerge {projection['forcemerge']}",
            flush=True,
        )

        t = _stage("start processes (stack/apps.sh under STACK_NAMESPACE=bench, and the baselines' Gunicorn instances)")
        procs.start_apps()
        procs.start_extra()
        seconds["start_processes"] = round(time.monotonic() - t, 2)

        ctx = comparisons.Context(scale=scale, info=info, procs=procs, not_run=not_run)
        ctx.figures["seed"] = {
            "counts": info.counts,
            "top_assessment_submitted": info.top_assessment_submitted,
            "copy_seconds": info.seconds,
            "projection": projection,
        }
        plan = [
            (
                "reads",
                "(1) search API vs Django ORM lists",
                lambda: ctx.figures.__setitem__("_scenarios", comparisons.reads(ctx)),
                "search API",
            ),
            (
                "raw_es",
                "(2) search API vs raw Elasticsearch",
                lambda: comparisons.api_vs_raw_es(
                    ctx, ctx.figures.pop("_scenarios", None) or comparisons.read_scenarios(ctx)
                ),
                "search API",
            ),
            ("suggest", "search-as-you-type suggestions (issue 17)", lambda: comparisons.suggest(ctx), "search API"),
            (
                "writes",
                "(3) write endpoint with change capture on vs off (same instance, triggers toggled)",
                lambda: comparisons.writes(ctx),
                None,
            ),
            ("pgbouncer", "(7) pgBouncer vs direct connections", lambda: comparisons.pgbouncer(ctx), None),
            ("hot_counter", "(6) hot counter: pipeline vs naive UPDATE", lambda: comparisons.hot_counter(ctx), None),
            (
                "doc_writes",
                "documents written per submission (largest leaderboard)",
                lambda: comparisons.documents_per_submission(ctx),
                None,
            ),
            ("lag", "(4) commit-to-searchable lag", lambda: comparisons.lag(ctx), None),
            (
                "raw_sql_lag",
                "commit-to-searchable lag of plain-SQL writes on the primary (issue 13)",
                lambda: comparisons.raw_sql_lag(ctx),
                None,
            ),
            ("reindex", "(5) reindex vs raw parallel bulk", lambda: comparisons.reindex(ctx), "reindex command"),
        ]
        for key, title, run, needs in plan:
            if selected and key not in selected:
                continue
            if needs and needs in not_run:
                print(f"\n== {title}: NOT RUN ({not_run[needs]})", flush=True)
                not_run[key] = not_run[needs]
                continue
            _stage(title)
            comparisons.wait_idle(ctx, key)
            t = time.monotonic()
            try:
                run()
            except Exception as exc:  # one failing comparison must not lose the others
                traceback.print_exc()
                not_run[key] = f"failed: {type(exc).__name__}: {exc}"[:500]
            seconds[key] = round(time.monotonic() - t, 2)
    finally:
        # Stages re-enable capture themselves (database.capture_disabled); this catches an interrupt
        # between the two ALTERs, so the bench database is never left without capture.
        if database_ready:
            try:
                capture_at_end = database.ensure_capture_enabled()
            except Exception as exc:
                traceback.print_exc()
                capture_at_end = {"enabled": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
            if capture_at_end.get("reenabled") or not capture_at_end.get("enabled"):
                print(f"capture triggers at the end of the run: {capture_at_end}", flush=True)
        t = time.monotonic()
        procs.stop_all()
        seconds["stop_processes"] = round(time.monotonic() - t, 2)

    figures = ctx.figures if ctx else {}
    figures.pop("_scenarios", None)
    values = report.headline(figures)
    results = {
        "scale": scale.name,
        **values,
        "targets_met": report.target_status(values),
        "targets": {k: f"{op} {bound}" for k, (op, bound) in report.TARGETS.items()},
        "not_run": not_run,
        "capture_triggers_at_end": capture_at_end,
        "started_at": started_at.isoformat(),
        "duration_seconds": round(time.monotonic() - run_started, 1),
        "stage_seconds": seconds,
        "machine": report.machine(),
        "scale_parameters": scale.__dict__,
        "namespace": namespace.ENV,
        "figures": figures,
    }
    print("\n" + report.table(results), flush=True)
    report.write_json(results, args.output)
    print(f"\nwrote {args.output}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
