"""The search API vs raw Elasticsearch stage alone, in the caller's own namespace.

For working on the search hot path without `bench/run` (which owns the shared bench namespace):
the same seeding (small scale), the same scenarios, the same Elasticsearch capture and cProfile
(bench/es_bodies.py) and the same wrk runs (bench/stages/context.measure,
bench/stages/raw_es_replay.measure_raw_es), with the API and its raw replay alternated in rounds
so both sides see the same machine load.

  # once: reset this namespace's database, indexes and Redis DBs, seed and project (small scale)
  STACK_NAMESPACE=hc PG_DB=assessments_hc ... python -m bench.hot_path seed
  # the search API of this checkout (stack/apps.sh search, with SEARCH_RATE_LIMIT=1000000000 as
  # bench/run sets it), then rounds of API vs raw; optionally NGINX (stack/nginx.sh, its CPU share
  # counted from its pid file) and other API servers (--target LABEL=PORT:PGID, started by you in
  # a session of their own) in the same rounds
  STACK_NAMESPACE=hc PG_DB=assessments_hc ... python -m bench.hot_path measure --rounds 3 [--nginx-port P]

Every selecting variable must be given (STACK_NAMESPACE, PG_DB, REDIS_DB_BROKER, REDIS_DB_CACHE,
ES_INDEX_PREFIX, TEST_WRITE_PORT, TEST_SEARCH_PORT), and it refuses the bench namespace itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pickle
import statistics
import sys

from bench import namespace

SELECTING = (
    "STACK_NAMESPACE",
    "PG_DB",
    "REDIS_DB_BROKER",
    "REDIS_DB_CACHE",
    "ES_INDEX_PREFIX",
    "TEST_WRITE_PORT",
    "TEST_SEARCH_PORT",
)


def _use_callers_namespace() -> None:
    missing = [k for k in SELECTING if not os.environ.get(k)]
    if missing:
        sys.exit(f"set {', '.join(missing)} (your own namespace)")
    if os.environ["STACK_NAMESPACE"] == "bench" or os.environ["PG_DB"] == namespace.ENV["PG_DB"]:
        sys.exit("refusing the bench namespace: bench/run owns it")
    namespace.ENV.update({k: os.environ[k] for k in SELECTING})
    namespace.SEARCH_PORT = int(os.environ["TEST_SEARCH_PORT"])
    namespace.RUN_DIR = namespace.STACK_HOME / "run" / os.environ["STACK_NAMESPACE"]
    namespace.LOG_DIR = namespace.STACK_LOGS / os.environ["STACK_NAMESPACE"]
    namespace.apply()


def _seed_file():
    return namespace.RUN_DIR / "hot_path_seed.pickle"


def seed() -> None:
    from bench import database
    from bench import seed as seeding
    from bench.scales import SCALES

    database.reset_namespace()
    database.migrate_and_create_indexes()
    scale = SCALES["small"]
    info = seeding.generate_and_copy(scale)
    seeding.issue_tokens(info, submit_jobs_needed=10, doc_write_jobs=0)
    projection = seeding.project_all(info, scale.seed_processes)
    namespace.RUN_DIR.mkdir(parents=True, exist_ok=True)
    _seed_file().write_bytes(pickle.dumps(info))
    print(f"seeded {info.counts}; projected {projection['documents']} documents", flush=True)


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


class _Processes:
    """This namespace's apps.sh processes plus the process groups given on the command line (CPU accounting)."""

    def __init__(self, extra_groups: dict[str, int]) -> None:
        from bench.processes import ProcessSet

        self._apps, self._extra = ProcessSet(), extra_groups

    def groups(self) -> dict[str, int]:
        return {**self._apps.groups(), **self._extra}


def measure(
    rounds: int,
    duration: float,
    clients: int,
    nginx_port: int | None,
    profile_requests: int,
    extra_targets: dict[str, tuple[int, int]],
) -> dict:
    from bench.loadgen import Request
    from bench.scales import SCALES
    from bench.stages.context import StageContext, auth_header, measure
    from bench.stages.raw_es_replay import capture_es_requests, measure_raw_es
    from bench.stages.read_scenarios import read_scenarios, scenario_path

    info = pickle.loads(_seed_file().read_bytes())
    scale = dataclasses.replace(SCALES["small"], duration=duration, warmup=1, read_connections=clients)
    from bench.processes import nginx_pid

    groups = {label: pgid for label, (_port, pgid) in extra_targets.items()} | (
        {"nginx": nginx_pid()} if nginx_port else {}
    )
    ctx = StageContext(scale=scale, info=info, procs=_Processes(groups))
    broad = [s for s in read_scenarios(ctx) if s["name"].endswith("_broad")]
    built = capture_es_requests(broad, profile_requests)
    captured, api_profile = built["requests"], built.get("profile")
    targets = {
        "api": namespace.SEARCH_PORT,
        **{label: port for label, (port, _pgid) in extra_targets.items()},
        **({"nginx": namespace.url(nginx_port)} if nginx_port else {}),
    }
    runs: dict = {s["name"]: {"rounds": []} for s in broad}
    for r in range(rounds):
        for s in broad:
            one = {}
            for label, target in targets.items():
                req = [Request("GET", scenario_path(s, "api"), auth_header(s["token"]))]
                one[label] = measure(f"{label} {s['name']} r{r}", target, req, clients, ctx)
                one[f"{label}_1"] = measure(f"{label} {s['name']} r{r} (1 client)", target, req, 1, ctx)
            one["raw"] = measure_raw_es(s["name"], captured[s["name"]], clients, ctx, suffix=f" r{r}")
            one["raw_1"] = measure_raw_es(s["name"], captured[s["name"]], 1, ctx, suffix=f" r{r} (1 client)")
            runs[s["name"]]["rounds"].append(one)
    failed = [
        f"{name} r{r} {label}"
        for name, fig in runs.items()
        for r, one in enumerate(fig["rounds"])
        for label, run in one.items()
        if sum(run.get("errors", {}).values())
    ]
    if failed:  # a 429 is answered in a fraction of a millisecond: such a run measures nothing
        sys.exit(f"runs with errors (an API started without SEARCH_RATE_LIMIT=1000000000?): {', '.join(failed)}")
    summary = {}
    for name, fig in runs.items():
        rs = fig["rounds"]
        summary[name] = (
            {
                f"{label}_vs_raw_throughput_ratio": _median([x[label]["rps"] / x["raw"]["rps"] for x in rs])
                for label in targets
            }
            | {
                f"{label}_added_p50_ms_one_client": _median(
                    [x[f"{label}_1"]["p50_ms"] - x["raw_1"]["p50_ms"] for x in rs]
                )
                for label in targets
            }
            | {f"{label}_cpu_ms_per_request": _median_cpu([x[label]["cpu"] for x in rs]) for label in targets}
            | {"raw_cpu_ms_per_call": _median_cpu([_raw_cpu_per_call(x["raw"]) for x in rs])}
        )
    return {
        "clients": clients,
        "duration_s": duration,
        "rounds": rounds,
        "summary": summary,
        "api_profile": api_profile,
        "runs": runs,
    }


def _raw_cpu_per_call(raw: dict) -> dict:
    """CPU per API call's worth of raw requests: per request of the in-turn run times requests per call."""
    run = raw.get("in_turn", raw)
    n = raw["requests_per_call"]
    return {"cpu_ms_per_request": {k: v * n for k, v in run["cpu"].get("cpu_ms_per_request", {}).items()}}


def _median_cpu(cpus: list[dict]) -> dict:
    names = {k for c in cpus for k in c.get("cpu_ms_per_request", {})}
    return {k: _median([c.get("cpu_ms_per_request", {}).get(k, 0.0) for c in cpus]) for k in sorted(names)}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.hot_path", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("seed")
    m = sub.add_parser("measure")
    m.add_argument("--rounds", type=int, default=3)
    m.add_argument("--duration", type=float, default=5)
    m.add_argument("--clients", type=int, default=8)
    m.add_argument("--nginx-port", type=int, help="also through NGINX on this port (stack/nginx.sh, NGINX_PORT)")
    m.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="LABEL=PORT:PGID",
        help="another search API server in the same rounds (its process group for CPU accounting)",
    )
    m.add_argument("--profile-requests", type=int, default=200)
    m.add_argument("--output", help="write the figures as JSON here")
    args = parser.parse_args()
    _use_callers_namespace()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.base")
    import django

    django.setup()
    if args.command == "seed":
        seed()
        return
    extra = {}
    for spec in args.target:
        label, _, where = spec.partition("=")
        port, _, pgid = where.partition(":")
        extra[label] = (int(port), int(pgid))
    out = measure(args.rounds, args.duration, args.clients, args.nginx_port, args.profile_requests, extra)
    print(json.dumps({"summary": out["summary"], "profile": out["api_profile"]}, indent=1))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
