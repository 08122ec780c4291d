"""Headline figures and ratios from the raw figures, the printed table, and results JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path

TARGETS = {
    "read_vs_orm_throughput_ratio": (">=", 5.0),
    "read_vs_orm_p95_ratio": ("<=", 0.2),
    "api_vs_raw_es_throughput_ratio": (">=", 0.7),
    "api_added_p50_ms": ("<=", 3.0),
    # The API's added p50 at one client (no queueing), raw = its own ES requests replayed.
    "api_added_p50_ms_one_client": ("<=", 1.0),
    # CPU per request of the search processes over Elasticsearch's, in the API's run.
    "search_vs_es_cpu_per_request": ("<=", 1.0),
    # The same write instance with the capture triggers on vs off, workers running.
    "write_with_capture_throughput_ratio": (">=", 0.90),
    # 100 writes/s, a third of them submissions, most on the largest leaderboard.
    "lag_p99_seconds_steady": ("<=", 1.5),
    "lag_p99_seconds_burst": ("<=", 3.0),
    # Changes committed by plain SQL on the primary, commit to visible in the search API.
    "raw_sql_lag_p99_seconds": ("<=", 2.0),
    "reindex_vs_raw_bulk_ratio": (">=", 0.9),
    # verify of the full attempts index (1,000,000 documents at full scale), replica reads.
    "verify_seconds": ("<=", 180.0),
    # One counter flush per coalescing window (COUNTERS_COALESCE_SECONDS, 0.5 s) is 2 UPDATEs per
    # second on the hottest row whatever the comment rate; a quarter more for full batches chained.
    "hot_counter_updates_per_second": ("<=", 2.5),
    "hot_counter_exact": ("==", True),
    # GET {assessments,posts}/suggest at 8 clients.
    "suggest_p95_ms": ("<=", 10.0),
}


def _at_path(tree: dict | None, *keys):
    """tree[k1][k2]...; None where a key is missing."""
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _search_over_es_cpu(run: dict) -> float | None:
    per_request = (run.get("cpu") or {}).get("cpu_ms_per_request", {})
    search, elasticsearch = per_request.get("search"), per_request.get("elasticsearch")
    return round(search / elasticsearch, 3) if search is not None and elasticsearch else None


def headline(figures: dict) -> dict:
    reads = _at_path(figures, "reads", "scenarios") or {}
    broad = [scenario for name, scenario in reads.items() if name.endswith("_broad")]
    raw = _at_path(figures, "api_vs_raw_es", "scenarios") or {}
    hot = figures.get("hot_counter") or {}
    raw_sql = figures.get("raw_sql_lag") or {}
    return {
        "read_vs_orm_throughput_ratio": min((scenario["throughput_ratio"] for scenario in broad), default=None),
        "read_vs_orm_p95_ratio": max((scenario["p95_ratio"] for scenario in broad), default=None),
        "api_vs_raw_es_throughput_ratio": min(
            (scenario["throughput_ratio"] for scenario in raw.values()), default=None
        ),
        "api_added_p50_ms": max((scenario["added_p50_ms"] for scenario in raw.values()), default=None),
        "api_added_p50_ms_one_client": _at_path(figures, "api_vs_raw_es", "single_client", "added_p50_ms"),
        "search_vs_es_cpu_per_request": max(
            (ratio for scenario in raw.values() if (ratio := _search_over_es_cpu(scenario["api"])) is not None),
            default=None,
        ),
        # The same through NGINX (what users hit), and NGINX's own share of the serving CPU.
        "nginx_vs_raw_es_throughput_ratio": min(
            (
                scenario["nginx_throughput_ratio"]
                for scenario in raw.values()
                if scenario.get("nginx_throughput_ratio") is not None
            ),
            default=None,
        ),
        "nginx_added_p50_ms_one_client": _at_path(figures, "api_vs_raw_es", "single_client", "nginx_added_p50_ms"),
        # bench/proxy_floor: the floor under any Python search API here (no target: the yardstick).
        "floor_vs_raw_es_throughput_ratio": min(
            (
                scenario["floor_throughput_ratio"]
                for scenario in raw.values()
                if scenario.get("floor_throughput_ratio") is not None
            ),
            default=None,
        ),
        "floor_added_p50_ms_one_client": _at_path(figures, "api_vs_raw_es", "single_client", "floor_added_p50_ms"),
        "nginx_cpu_share": max(
            (scenario["nginx_cpu_share"] for scenario in raw.values() if scenario.get("nginx_cpu_share") is not None),
            default=None,
        ),
        "write_with_capture_throughput_ratio": _at_path(figures, "writes", "capture", "throughput_ratio"),
        "write_with_capture_throughput_ratio_workers_paused": _at_path(
            figures, "writes", "capture", "throughput_ratio_workers_paused"
        ),
        "write_capture_cpu_ms_per_write": _at_path(
            figures, "writes", "capture", "cpu_ms_per_write", "workers_running_until_drained", "difference", "total"
        ),
        # A write never seen has no lag: no p99 then (the stage is reported as failed).
        "raw_sql_lag_p99_seconds": (
            _at_path(raw_sql, "lag_seconds", "p99") if raw_sql and not raw_sql.get("unseen_after_settle") else None
        ),
        "lag_p99_seconds_steady": _at_path(figures, "lag", "steady", "lag_seconds", "p99"),
        "lag_p99_seconds_burst": _at_path(figures, "lag", "burst", "lag_seconds", "p99"),
        "reindex_vs_raw_bulk_ratio": _at_path(figures, "reindex", "ratio"),
        "reindex_primary_cpu_seconds": _at_path(figures, "reindex", "primary_cpu_seconds"),
        "verify_seconds": _at_path(figures, "verify", "replica", "wall_seconds"),
        "verify_docs_per_second": _at_path(figures, "verify", "replica", "rows_per_second"),
        "verify_rows": _at_path(figures, "verify", "replica", "rows"),
        "verify_primary_cpu_seconds": _at_path(figures, "verify", "primary_cpu_seconds"),
        "hot_counter_updates_per_second": hot.get("pipeline_updates_per_second"),
        "hot_counter_exact": hot.get("exact"),
        "suggest_p95_ms": max(
            (scenario["api"]["p95_ms"] for scenario in (_at_path(figures, "suggest", "scenarios") or {}).values()),
            default=None,
        ),
        "attempt_documents_per_submission": _at_path(
            figures, "documents_per_submission", "attempt_document_writes_per_submission"
        ),
        "assessment_documents_per_submission": _at_path(
            figures, "documents_per_submission", "assessment_document_writes_per_submission"
        ),
        "documents_per_submission_leaderboard_size": _at_path(
            figures, "documents_per_submission", "leaderboard_size_before"
        ),
        "pgbouncer_direct_vs_pgbouncer_throughput_ratio": _at_path(
            figures, "pgbouncer", "direct_vs_pgbouncer_throughput_ratio"
        ),
        # Read your own writes: added latency of waiting, and no-token throughput present / absent.
        "waiting_write_added_p50_ms": _at_path(figures, "consistency", "latency", "waiting_write", "added_p50_ms"),
        "waiting_write_added_p99_ms": _at_path(figures, "consistency", "latency", "waiting_write", "added_p99_ms"),
        "read_with_token_added_p50_ms": _at_path(figures, "consistency", "latency", "read_with_token", "added_p50_ms"),
        "read_with_token_added_p99_ms": _at_path(figures, "consistency", "latency", "read_with_token", "added_p99_ms"),
        "writes_without_token_present_vs_absent": _at_path(
            figures, "consistency", "throughput", "writes", "present_vs_absent"
        ),
        "reads_without_token_present_vs_absent": _at_path(
            figures, "consistency", "throughput", "reads", "present_vs_absent"
        ),
    }


def target_status(values: dict) -> dict:
    status = {}
    for key, (comparison, bound) in TARGETS.items():
        value = values.get(key)
        if value is None:
            status[key] = None
        elif comparison == ">=":
            status[key] = value >= bound
        elif comparison == "<=":
            status[key] = value <= bound
        else:
            status[key] = value == bound
    return status


def machine() -> dict:
    def first_value(path: str, prefix: str) -> str | None:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip() if ":" in line else line.split("=", 1)[1].strip('"')
        except OSError:
            return None
        return None

    mem_kb = first_value("/proc/meminfo", "MemTotal")
    try:
        es_version = json.loads(
            subprocess.run(
                ["curl", "-s", os.environ.get("ES_URL", "http://127.0.0.1:9200")],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout
        )["version"]["number"]
    except Exception:
        es_version = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": first_value("/proc/cpuinfo", "model name"),
        "memory_gib": round(int(mem_kb.split()[0]) / 1024 / 1024, 1) if mem_kb else None,
        "os": first_value("/etc/os-release", "PRETTY_NAME="),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "elasticsearch": es_version,
        "loadavg_at_start": os.getloadavg()[0],
        "shared": "the same machine runs PostgreSQL, pgBouncer, Redis, Elasticsearch, every service, the workers "
        "and the load generator (and other engineers' work: see loadavg_before of each run)",
    }


def _shown(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


class _Table:
    """The printed table: one markdown row per figure, with its target and whether it was met."""

    def __init__(self, results: dict):
        self.figures, self.values, self.met = results["figures"], results, results["targets_met"]
        self.lines = [
            f"Benchmark results, scale {results['scale']} ({results['duration_seconds']:.0f} s run)",
            "| figure | value | target | | how measured |",
            "|---|---|---|---|---|",
        ]

    def row(self, name: str, value, target: str = "", met=None, how: str = "") -> None:
        mark = "" if met is None else ("met" if met else "MISSED")
        self.lines.append(f"| {name} | {value} | {target} | {mark} | {how} |")

    def headline_row(self, key: str, digits: int, target: str, how: str = "", name: str | None = None) -> None:
        self.row(name or key, _shown(self.values[key], digits), target, self.met.get(key), how)


def table(results: dict) -> str:
    out = _Table(results)
    for section in (
        _read_rows,
        _raw_es_rows,
        _newest_first_rows,
        _write_rows,
        _lag_rows,
        _documents_rows,
        _reindex_rows,
        _hot_counter_rows,
        _pgbouncer_rows,
        _consistency_rows,
    ):
        section(out)
    for name, reason in results.get("not_run", {}).items():
        out.row(f"NOT RUN: {name}", "null", "", None, reason)
    return "\n".join(out.lines)


def _newest_first_rows(out: _Table) -> None:
    newest = out.figures.get("newest_first") or {}
    for ordering, runs in newest.get("orderings", {}).items():
        unsorted, sorted_ = runs["unsorted"], runs["sorted"]
        out.row(
            f"attempts ordering={ordering}: unsorted / sorted index",
            f"took p50 {unsorted['took_p50_ms']} / {sorted_['took_p50_ms']} ms; wall p50 "
            f"{unsorted['wall_p50_ms']} / {sorted_['wall_p50_ms']} ms (x{runs['unsorted_vs_sorted_wall_p50']})",
            "",
            None,
            f"the same documents, one segment each, {newest['organisation_matches']} matches, one client, "
            "query cache cleared per run",
        )


def _read_rows(out: _Table) -> None:
    reads = out.figures.get("reads") or {}
    for name, scenario in reads.get("scenarios", {}).items():
        api, orm = scenario["api"], scenario["orm"]
        out.row(
            f"{name}: search API / ORM",
            f"{api['rps']:.0f} / {orm['rps']:.0f} req/s; p95 {api['p95_ms']:.1f} / {orm['p95_ms']:.1f} ms",
            "",
            None,
            f"wrk, {reads.get('connections')} connections, {api['duration_s']:.0f} s after {api['warmup_s']:.0f} s "
            f"warm-up; {scenario['matches']} matches; same page: {_shown(scenario['parity']['same_page'])}",
        )
    out.headline_row("read_vs_orm_throughput_ratio", 2, ">= 5", name="read_vs_orm_throughput_ratio (broad, worst)")
    out.headline_row("read_vs_orm_p95_ratio", 3, "<= 0.2", name="read_vs_orm_p95_ratio (broad, worst)")


def _raw_es_rows(out: _Table) -> None:
    stage = out.figures.get("api_vs_raw_es") or {}
    for name, scenario in stage.get("scenarios", {}).items():
        api, raw = scenario["api"], scenario["raw_es"]
        out.row(
            f"{name}: API / raw ES",
            f"{api['rps']:.0f} / {raw['rps']:.0f} req/s; p50 {api['p50_ms']:.1f} / {raw['p50_ms']:.1f} ms",
            "",
            None,
            "the API's own ES requests per call "
            f"({' then '.join(r['path'].split('?')[0] for r in scenario['es_requests'])}), same wrk settings"
            + (
                ""
                if raw.get("requests_per_call", 1) == 1
                else "; raw = combined estimate (requests in turn / n; p50 = sum of parts)"
            ),
        )
    single = stage.get("single_client")
    if single:
        out.row(
            "added p50, 1 client (no queueing)",
            f"{single['added_p50_ms']:.2f} ms",
            "",
            None,
            f"{single['scenario']}: API {single['api']['p50_ms']:.2f} ms vs raw {single['raw_es']['p50_ms']:.2f} ms",
        )
    values = out.values
    out.headline_row("api_vs_raw_es_throughput_ratio", 3, ">= 0.7", name="api_vs_raw_es_throughput_ratio (worst)")
    out.headline_row("api_added_p50_ms", 2, "<= 3", name="api_added_p50_ms (worst, 8 clients)")
    out.headline_row("api_added_p50_ms_one_client", 2, "<= 1")
    out.headline_row(
        "search_vs_es_cpu_per_request",
        3,
        "<= 1",
        "CPU ms per request of the search processes / of Elasticsearch, API run at 8 clients",
        name="search_vs_es_cpu_per_request (worst)",
    )
    out.row(
        "through NGINX: throughput vs raw ES (worst)",
        _shown(values["nginx_vs_raw_es_throughput_ratio"], 3),
        "",
        None,
        "the same calls through the bench's NGINX, 8 clients",
    )
    out.row(
        "through NGINX: added p50, 1 client",
        _shown(values["nginx_added_p50_ms_one_client"]),
        "",
        None,
        f"NGINX's share of the serving CPU (NGINX, API, ES, Redis): {_shown(values['nginx_cpu_share'], 3)}",
    )
    out.row(
        "floor: throughput vs raw ES (worst)",
        _shown(values["floor_vs_raw_es_throughput_ratio"], 3),
        "",
        None,
        "bench/proxy_floor: a Python app doing only the token's Redis trip and the same ES requests, 8 clients",
    )
    out.row(
        "floor: added p50, 1 client",
        _shown(values["floor_added_p50_ms_one_client"]),
        "",
        None,
        "the same floor at one client",
    )


def _write_rows(out: _Table) -> None:
    writes = out.figures.get("writes")
    if writes and writes.get("capture"):
        _capture_rows(out, writes)
    out.headline_row("write_with_capture_throughput_ratio", 3, ">= 0.9", "capture on / off, workers running")


def _capture_rows(out: _Table, writes: dict) -> None:
    capture = writes["capture"]
    on, off = writes["workers_running"]["capture_on"], writes["workers_running"]["capture_off"]
    out.row(
        "write POST posts: capture on / off",
        f"{on['rps']:.0f} / {off['rps']:.0f} req/s; mean {_shown(on.get('mean_ms'), 1)} / "
        f"{_shown(off.get('mean_ms'), 1)} ms",
        "",
        None,
        f"same instance, capture off = triggers disabled; wrk, {writes['connections']} connections, "
        f"{on['runs_pooled']} runs per mode "
        f"(ABBA) of {on['runs'][0]['duration_s']:.0f} s after {on['warmup_s']:.0f} s warm-up, pair ratios "
        f"{capture['pair_ratios']['workers_running']}; workers running; outbox rows per write "
        f"{capture['capture_verified']['outbox_rows_per_write_capture_on']} / "
        f"{capture['capture_verified']['outbox_rows_capture_off']} in all",
    )
    paused_on, paused_off = writes["workers_paused"]["capture_on"], writes["workers_paused"]["capture_off"]
    out.row(
        "  same, workers paused",
        f"{paused_on['rps']:.0f} / {paused_off['rps']:.0f} req/s "
        f"(ratio {_shown(capture['throughput_ratio_workers_paused'], 3)})",
        "report",
        None,
        "Celery workers SIGSTOPped (the listener runs): the write path's own cost only; pair ratios "
        f"{capture['pair_ratios']['workers_paused']}",
    )
    timing = writes.get("server_timing", {})
    if timing:
        timed_on, timed_off = timing["capture_on"], timing["capture_off"]
        out.row(
            "  per write, sequential: capture on / off",
            f"{timed_on['server_ms_per_write']} / {timed_off['server_ms_per_write']} ms "
            f"server; {timed_on['db_ms_per_write']} / {timed_off['db_ms_per_write']} ms SQL; "
            f"{timed_on['sql_calls_per_write']} / {timed_off['sql_calls_per_write']} calls",
            "",
            None,
            f"Server-Timing header, {timed_on['requests']} sequential writes",
        )
    for label, key in (
        ("CPU ms per write, workers running", "workers_running"),
        ("CPU ms per write, until drained", "workers_running_until_drained"),
        ("CPU ms per write, workers paused", "workers_paused"),
    ):
        per_write = capture["cpu_ms_per_write"][key]
        costliest = [
            component
            for component, _ms in sorted(per_write["capture_on"].items(), key=lambda item: -item[1])
            if component not in ("total", "load generator (wrk)")
        ][:5]
        other = per_write["unaccounted_busy_seconds"]
        out.row(
            f"  {label}: capture on / off",
            f"{per_write['capture_on']['total']} / {per_write['capture_off']['total']} ms",
            "",
            None,
            "; ".join(
                f"{component} {per_write['capture_on'].get(component, 0)} / "
                f"{per_write['capture_off'].get(component, 0)}"
                for component in costliest
            )
            + (
                " (from the first warm-up write to the pipeline idle again)"
                if key.endswith("drained")
                else " (measured runs)"
            )
            + f"; other work on the machine {other['capture_on']} / {other['capture_off']} CPU s",
        )


def _lag_rows(out: _Table) -> None:
    lag = out.figures.get("lag")
    for phase, target in (("light", ""), ("steady", "<= 1.5 s"), ("burst", "<= 3 s")) if lag else ():
        if phase not in lag:
            continue
        measured = lag[phase]
        key = f"lag_p99_seconds_{phase}"
        out.row(
            key if phase != "light" else "lag p99 at 25 writes/s (light)",
            f"{_shown(measured['lag_seconds']['p99'], 3)} s (p50 {_shown(measured['lag_seconds']['p50'], 3)})",
            target,
            out.met.get(key),
            f"{measured['acknowledged']} ({measured.get('submissions_on_top_assessment')} submissions on the "
            f"largest leaderboard) at {measured['achieved_rate']} writes/s; ES polled every "
            f"{lag['poll_interval_s'] * 1000:.0f} ms; pipeline's own p99 "
            f"{_shown(measured['pipeline_lag_seconds']['p99'], 3)} s; unseen {measured['unseen_after_settle']}",
        )
    raw_sql = out.figures.get("raw_sql_lag")
    if raw_sql:
        lag_s, by_kind = raw_sql["lag_seconds"], raw_sql["lag_seconds_by_kind"]
        out.row(
            "raw_sql_lag_p99_seconds",
            f"{_shown(out.values['raw_sql_lag_p99_seconds'], 3)} s (n {lag_s['n']}, p50 {_shown(lag_s['p50'], 3)}, "
            f"p95 {_shown(lag_s['p95'], 3)}, max {_shown(lag_s['max'], 3)})",
            "<= 2 s",
            out.met.get("raw_sql_lag_p99_seconds"),
            f"psycopg2 on the primary, {raw_sql['committed']} one per transaction at {raw_sql['achieved_rate']}/s; "
            f"search API polled every {raw_sql['poll_interval_s'] * 1000:.0f} ms; updates p99 "
            f"{_shown(by_kind['update']['p99'], 3)} s, comments p99 {_shown(by_kind['comment']['p99'], 3)} s; "
            f"unseen {raw_sql['unseen_after_settle']}",
        )


def _documents_rows(out: _Table) -> None:
    documents = out.figures.get("documents_per_submission")
    if documents:
        out.row(
            "documents written per submission (attempts / assessments)",
            f"{_shown(documents['attempt_document_writes_per_submission'], 2)} / "
            f"{_shown(documents['assessment_document_writes_per_submission'], 2)}",
            "constant",
            None,
            f"{documents['submissions']} submissions on the largest leaderboard "
            f"({documents['leaderboard_size_before']:,} submitted); Elasticsearch indexing stats (index_total) "
            "before/after, pipeline idle",
        )


def _reindex_rows(out: _Table) -> None:
    reindex, values = out.figures.get("reindex"), out.values
    if reindex:
        raw = reindex["raw_streaming_bulk"]
        out.row(
            "reindex / raw loader",
            f"{reindex['reindex']['docs_per_second']:.0f} / {raw['docs_per_second']:.0f} docs/s; "
            f"pairs {' / '.join(str(pair['ratio']) for pair in reindex['pairs'])}",
            "",
            None,
            f"{reindex['reindex']['command']} (load phase) vs one server-side cursor + parallel_bulk of the same "
            f"{raw['documents']} docs, reading and rendering inside its clock, same threads/chunk",
        )
    suggest = out.figures.get("suggest") or {}
    for name, scenario in suggest.get("scenarios", {}).items():
        if "raw_es" in scenario:
            api, raw = scenario["api"], scenario["raw_es"]
            out.row(
                f"suggest {name}: search API / raw Elasticsearch",
                f"{api['rps']:.0f} / {raw['rps']:.0f} req/s; p95 {api['p95_ms']} / {raw['p95_ms']} ms",
                "",
                None,
                f"wrk, {suggest['connections']} connections; raw = the API's own suggest searches replayed",
            )
    if values.get("suggest_p95_ms") is not None:
        out.headline_row(
            "suggest_p95_ms",
            1,
            "<= 10",
            "GET assessments/suggest and posts/suggest, 10 prefixes in turn, the worse of the two",
        )
    out.headline_row("reindex_vs_raw_bulk_ratio", 3, ">= 0.9")
    if values.get("verify_seconds") is not None:
        out.headline_row(
            "verify_seconds",
            1,
            "<= 180",
            f"manage.py verify attempts, {values['verify_rows']:,} rows, {values['verify_docs_per_second']:,.0f} "
            "rows/s compared",
        )
    for command in ("reindex", "verify"):
        cpu_seconds = values.get(f"{command}_primary_cpu_seconds")
        if cpu_seconds:
            out.row(
                f"{command} primary CPU s (replica / primary reads)",
                f"{cpu_seconds.get('replica')} / {cpu_seconds.get('primary')}",
                "report",
                None,
                "PostgreSQL primary's CPU seconds during the command, reading the replica vs --primary",
            )


def _hot_counter_rows(out: _Table) -> None:
    hot = out.figures.get("hot_counter")
    for kind in ("pipeline", "naive") if hot else ():
        run = hot[kind]
        out.row(
            f"hot counter, {kind}" + (" (capture off)" if kind == "naive" else ""),
            f"{run['comments_per_second']} comments/s; count {run['comments_count']}/{run['comment_rows']}; "
            f"{run['updates_on_hot_row']} UPDATEs on the row",
            "",
            None,
            f"{run['committed_comments']} comments on one post, wrk {hot['connections']} connections, "
            f"{hot['clients']} users"
            + (
                f"; exact {run['seconds_until_exact_after_last_ack']} s after the last ack"
                if kind == "pipeline"
                else ""
            ),
        )
    out.headline_row(
        "hot_counter_updates_per_second", 2, "<= 2.5", "pipeline: UPDATEs on the post's row, first commit until exact"
    )
    out.headline_row("hot_counter_exact", 2, "exact", "counter == comment rows, both runs; search document too")


def _pgbouncer_rows(out: _Table) -> None:
    pgbouncer = out.figures.get("pgbouncer")
    for label, run in (pgbouncer["runs"] if pgbouncer else {}).items():
        per_request = run.get("cpu", {}).get("cpu_ms_per_request", {})
        out.row(
            f"writes {label.replace('_', ' ')}",
            f"{run['rps']:.0f} req/s; p95 {run['p95_ms']:.1f} ms",
            "report",
            None,
            f"POST posts, wrk {pgbouncer['connections']} connections; CPU ms/request: pgbouncer "
            f"{per_request.get('pgbouncer', 0)}, postgresql primary {per_request.get('postgresql primary', 0)}",
        )


def write_json(results: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".tmp")
    partial.write_text(json.dumps(results, indent=2, sort_keys=False, default=str) + "\n")
    partial.replace(path)  # readers never see a half-written file


def _consistency_rows(out: _Table) -> None:
    latency = _at_path(out.figures, "consistency", "latency")
    if not latency:
        return
    background = f"{latency['samples']} samples at {latency['background_writes_per_second']} background writes/s"
    for key, what, reflected in (
        ("waiting_write", "a comment with Prefer: wait-for=indexed vs without", "waiting_writes_reflected"),
        ("read_with_token", "a read with the comment's token vs without", "reads_with_token_reflected"),
    ):
        out.row(
            f"{key}: added p50 / p99",
            f"{_shown(latency[key]['added_p50_ms'], 1)} / {_shown(latency[key]['added_p99_ms'], 1)} ms",
            "",
            None,
            f"{what}; {background}; reflected {latency[reflected]}/{latency['samples']}",
        )
    for kind in ("writes", "reads"):
        key = f"{kind}_without_token_present_vs_absent"
        medians = _at_path(out.figures, "consistency", "throughput", kind, "median_rps")
        out.row(
            key,
            _shown(out.values[key], 3),
            "~ 1",
            None,
            f"median req/s present {medians['present']:.0f} vs absent "
            f"(CONSISTENCY_TOKENS=false) {medians['absent']:.0f}",
        )
