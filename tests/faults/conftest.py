"""Fault-suite fixtures: real Gunicorn servers and workers for this namespace, load processes in
separate OS processes, and the summary table printed at the end of the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, apps

SUMMARY: list[dict] = []
SOAK: list[dict] = []  # one entry per soak run, printed after the fault table
LOAD_FINISH_MARGIN_SECONDS = 180
FAULT_SCALE = float(os.environ.get("FAULT_SCALE", "1"))  # 1 = CI scale; bigger = longer phases


@pytest.fixture(scope="session")
def servers(pipeline, write_server):
    apps("restart", "search")
    apps("start", "search")
    search = f"http://127.0.0.1:{os.environ.get('TEST_SEARCH_PORT', '8101')}"
    yield {"write": write_server, "search": search}
    apps("stop", "search")


@dataclass
class LoadRun:
    writer: subprocess.Popen
    reader: subprocess.Popen
    writer_out: Path
    reader_out: Path
    seconds: float
    started: float = field(default_factory=time.time)

    def finish(self) -> tuple[dict, dict]:
        deadline = self.started + self.seconds + LOAD_FINISH_MARGIN_SECONDS  # the load's own length, then a margin
        for proc in (self.writer, self.reader):
            proc.wait(timeout=max(1.0, deadline - time.time()))
        return json.loads(self.writer_out.read_text()), json.loads(self.reader_out.read_text())


def start_load(
    servers: dict, token: str, seconds: float, tmp_path: Path, write_rate: float = 15, read_rate: float = 8
) -> LoadRun:
    # 8 reads/s stays under the search API's per-token rate limit (600 per minute by default).
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def spawn(role, base, rate, out):
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.faults.load_processes",
                role,
                "--base",
                base,
                f"--token={token}",  # one =, since a token may start with "-"
                "--seconds",
                str(seconds),
                "--rate",
                str(rate),
                "--out",
                str(out),
            ],
            cwd=ROOT,
            env=env,
        )

    writer_out, reader_out = tmp_path / "writer.json", tmp_path / "reader.json"
    return LoadRun(
        spawn("writer", servers["write"], write_rate, writer_out),
        spawn("reader", servers["search"], read_rate, reader_out),
        writer_out,
        reader_out,
        seconds,
    )


def pytest_terminal_summary(terminalreporter):
    _fault_table(terminalreporter)
    _soak_table(terminalreporter)


def _soak_table(terminalreporter):
    for run in SOAK:
        terminalreporter.section(f"soak {run['seconds']:.0f} s: resident memory and lag")
        terminalreporter.write_line(
            f"{run['writes']} writes acknowledged, {run['write_errors']} write errors, {run['reads']} reads, "
            f"{run['read_errors']} read errors; lag p50 {run['lag']['p50']} s, p99 {run['lag']['p99']} s"
        )
        terminalreporter.write_line(
            f"{'component':<18} {'processes':>9} {'RSS start MiB':>14} {'RSS end MiB':>12} {'largest growth MiB':>19}"
        )
        for component, row in run["rss"].items():
            terminalreporter.write_line(
                f"{component:<18} {row['processes']:>9} {row['start']:>14.1f} {row['end']:>12.1f} "
                f"{row['largest_growth']:>19.1f}"
            )


def _fault_table(terminalreporter):
    if not SUMMARY:
        return
    terminalreporter.section("faults under load: summary")
    header = (
        f"{'fault':<28} {'acked writes':>12} {'lost':>5} {'drift':>6} {'converged s':>11} "
        f"{'read errs in/out':>17} {'5xx in window':>13}"
    )
    terminalreporter.write_line(header)
    for row in SUMMARY:
        terminalreporter.write_line(
            f"{row['fault']:<28} {row['acknowledged']:>12} {row['lost']:>5} {row['drift']:>6} "
            f"{row['converged_s']:>11.1f} "
            f"{row['read_errors_in']:>8}/{row['read_errors_out']:<8} {row['write_5xx']:>13}"
        )
