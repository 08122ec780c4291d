"""Smoke test of the benchmark command: `bench/run --scale small` completes and writes
every key of its results file (the capture on/off ratio and the raw-SQL lag among them).
Benchmarks are not timed tests: no speed is asserted, only that each comparison produced its
figure, that the hot counter came out exact and that capture was really off, then on again.

Runs in its own namespace (database assessments_bench, indexes bench_*, Redis 12/13, ports
8500-8509) and writes to a temporary file, never over bench/results/latest.json.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow]

REQUIRED_KEYS = (
    "scale",
    "read_vs_orm_throughput_ratio",
    "api_vs_raw_es_throughput_ratio",
    "api_added_p50_ms_one_client",
    "search_vs_es_cpu_per_request",
    "floor_vs_raw_es_throughput_ratio",
    "floor_added_p50_ms_one_client",
    "nginx_vs_raw_es_throughput_ratio",
    "nginx_added_p50_ms_one_client",
    "write_with_capture_throughput_ratio",
    "write_with_capture_throughput_ratio_workers_paused",
    "lag_p99_seconds_steady",
    "lag_p99_seconds_burst",
    "raw_sql_lag_p99_seconds",
    "reindex_vs_raw_bulk_ratio",
    "hot_counter_updates_per_second",
    "hot_counter_exact",
    "verify_seconds",
    "verify_docs_per_second",
    "suggest_p95_ms",
)
FIGURES = (
    "reads",
    "api_vs_raw_es",
    "suggest",
    "writes",
    "pgbouncer",
    "hot_counter",
    "lag",
    "raw_sql_lag",
    "reindex",
    "verify",
)


# About 3 minutes on a quiet machine (bench/README.md); each of the 10 stages may wait up to 30 s for
# a quiet start first (bench/stages/quiet_start.py), and a loaded shared machine takes 536 s or more.
@pytest.mark.timeout(900)
def test_bench_small_writes_every_figure(tmp_path):
    output = tmp_path / "small.json"
    completed = subprocess.run(
        [str(ROOT / "bench" / "run"), "--scale", "small", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=880,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(output.read_text())

    missing = [key for key in REQUIRED_KEYS if key not in results]
    assert not missing, missing
    assert results["scale"] == "small"
    assert results["not_run"] == {}, results["not_run"]
    for key in REQUIRED_KEYS[1:]:
        assert results[key] is not None, key
    assert set(FIGURES) <= set(results["figures"]), sorted(results["figures"])
    assert results["hot_counter_exact"] is True, results["figures"]["hot_counter"]
    # Capture off really was off (no change row for those writes), and it is on again at the end.
    capture = results["figures"]["writes"]["capture"]
    assert capture["capture_verified"]["outbox_rows_capture_off"] == 0, capture["capture_verified"]
    assert results["figures"]["hot_counter"]["naive"]["outbox_rows_recorded"] == 0
    assert results["capture_triggers_at_end"]["enabled"] is True, results["capture_triggers_at_end"]
    assert results["capture_triggers_at_end"]["reenabled"] is False, "a stage left capture disabled"
    # Every component's CPU per write is recorded, both ways.
    for mode in ("capture_on", "capture_off"):
        assert capture["cpu_ms_per_write"]["workers_running"][mode]["total"] > 0, capture["cpu_ms_per_write"]
    # Both services served the same pages (otherwise the read comparison compares different work).
    for name, scenario in results["figures"]["reads"]["scenarios"].items():
        assert scenario["parity"]["same_page"], (name, scenario["parity"])
