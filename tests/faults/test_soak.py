"""Soak: a mixed load for SOAK_SECONDS (60 in CI, 600 for the full run). Resident memory of every
process of ours stays flat (start vs end, after a warm-up), no errors, lag bounded."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from read_indexer.observability import lag
from tests.conftest import PIPELINE_PROCESSES, ROOT
from tests.faults.conftest import SOAK, start_load
from tests.helpers import make_tenant

pytestmark = [pytest.mark.slow]
SOAK_SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
WARM_UP_SECONDS = 10
COMPONENTS = ("write", "search", *PIPELINE_PROCESSES)


def _process_tree_rss() -> dict[str, int]:
    """RSS in KiB of each of our processes (Gunicorn masters and workers, Celery pools)."""
    rss = {}
    for component in COMPONENTS:
        pid = subprocess.run(
            [str(ROOT / "stack" / "apps.sh"), "pid", component], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        if not pid:
            continue
        pgid = os.getpgid(int(pid))
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.getpgid(int(proc.name)) != pgid:
                    continue
                status = (proc / "status").read_text()
            except (ProcessLookupError, FileNotFoundError, PermissionError):
                continue
            kib = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
            rss[f"{component}:{proc.name}"] = kib
    return rss


def _by_component(start: dict[str, int], end: dict[str, int], common: list[str]) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for name in common:
        row = rows.setdefault(name.split(":")[0], {"processes": 0, "start": 0.0, "end": 0.0, "largest_growth": 0.0})
        row["processes"] += 1
        row["start"] += start[name] / 1024
        row["end"] += end[name] / 1024
        row["largest_growth"] = max(row["largest_growth"], (end[name] - start[name]) / 1024)
    return rows


def test_soak_memory_flat_no_errors_lag_bounded(servers, tmp_path):
    tenant = make_tenant(candidates=0)
    load = start_load(servers, tenant.staff_token, seconds=WARM_UP_SECONDS + SOAK_SECONDS, tmp_path=tmp_path)
    time.sleep(WARM_UP_SECONDS)
    start = _process_tree_rss()
    written, read = load.finish()
    end = _process_tree_rss()
    figures = lag.percentiles(window_seconds=SOAK_SECONDS)
    common = sorted(set(start) & set(end))
    SOAK.append(
        {
            "seconds": SOAK_SECONDS,
            "writes": written["acknowledged"],
            "write_errors": len(written["errors"]),
            "reads": len(read["responses"]),
            "read_errors": sum(status != 200 for _, status, _ in read["responses"]),
            "lag": figures,
            "rss": _by_component(start, end, common),
        }
    )
    assert written["errors"] == [] and all(status == 200 for _, status, _ in read["responses"])
    assert common, "no process measured"
    for name in common:  # flat: under 25% or 32 MiB of growth, whichever is larger
        assert end[name] - start[name] <= max(start[name] * 0.25, 32 * 1024), (name, start[name], end[name])
    assert figures["p99"] is not None and figures["p99"] < 5
