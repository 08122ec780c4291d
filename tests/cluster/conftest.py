"""The cluster tier: the multi-host topology of stack/cluster.sh (three Elasticsearch nodes, three
PostgreSQL nodes under Patroni and etcd, two app hosts, NGINX in front), brought up once for the
tier with the test data (APP_ENV=test) and taken down as soon as the tier ends, so the rest of the
suite runs without its processes.

Every case runs under mixed load (writes through the write API, reads through NGINX) and ends with
the convergence check (tests/cluster/converge.py, run on an app host). The summary table of every
case's figures is printed at the end of the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.cluster import topology
from tests.conftest import ROOT

CLUSTER_SUMMARY: list[dict] = []
LOAD_FINISH_MARGIN_SECONDS = 120


@pytest.fixture(scope="package")
def cluster():
    """Up for this package's tests, down right after them: the rest of the suite runs without it."""
    started = time.monotonic()
    topology.cluster("up", timeout=1200)
    topology.es_wait_green()
    topology.wait_for_leader_with_sync()
    CLUSTER_SUMMARY.append({"case": "cluster up", "seconds": round(time.monotonic() - started, 1)})
    yield
    if not os.environ.get("KEEP_CLUSTER"):
        topology.cluster("down", check=False)


@pytest.fixture
def cluster_token(cluster) -> str:
    """A new organisation's staff token, made on an app host and issued through NGINX."""
    suffix = uuid.uuid4().hex[:10]
    password = "correct-horse-battery"
    topology.manage("create_org", f"cluster-{suffix}", "--admin", f"staff-{suffix}", "--password", password)
    response = requests.post(
        f"{topology.NGINX}/api/v1/auth/token", json={"username": f"staff-{suffix}", "password": password}, timeout=10
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


@dataclass
class ClusterLoad:
    writer: subprocess.Popen
    reader: subprocess.Popen
    out: Path
    seconds: float
    started: float = field(default_factory=time.time)

    def finish(self) -> tuple[dict, dict]:
        deadline = self.started + self.seconds + LOAD_FINISH_MARGIN_SECONDS
        for proc in (self.writer, self.reader):
            proc.wait(timeout=max(1.0, deadline - time.time()))
        return json.loads((self.out / "writer.json").read_text()), json.loads((self.out / "reader.json").read_text())

    def stop(self) -> tuple[dict, dict]:
        """Ends the load now (both processes write their files on SIGTERM)."""
        for proc in (self.writer, self.reader):
            proc.terminate()
        return self.finish()


def start_load(
    token: str, seconds: float, out: Path, *, retry: bool = False, write_rate: float = 10, read_rate: float = 8
) -> ClusterLoad:
    """Writes and reads through NGINX from separate processes (tests/faults/load_processes.py)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def spawn(role: str, rate: float, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.faults.load_processes",
                role,
                "--base",
                topology.NGINX,
                f"--token={token}",
                "--seconds",
                str(seconds),
                "--rate",
                str(rate),
                "--out",
                str(out / f"{role}.json"),
                *extra,
            ],
            cwd=ROOT,
            env=env,
        )

    return ClusterLoad(
        spawn("writer", write_rate, *(["--retry"] if retry else [])), spawn("reader", read_rate), out, seconds
    )


def converge(written: dict, tmp_path: Path, timeout: float = 90) -> dict:
    """The convergence check on app1; asserts it and returns its figures."""
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps(written))
    result = topology.in_app_host("tests.cluster.converge", str(ledger), "--timeout", str(timeout))
    assert result["converged_seconds"] is not None, result
    assert not any(result["drift"].values()), result["drift"]
    assert result["backlog"]["dead_letters"] == 0, result["backlog"]
    # Nothing stuck: whatever is still pending is younger than the pipeline's normal lag allows.
    assert (result["backlog"]["unindexed_age"] or 0) < 30 and (result["backlog"]["uncounted_age"] or 0) < 30, result[
        "backlog"
    ]
    return result


def pytest_terminal_summary(terminalreporter):
    if not CLUSTER_SUMMARY:
        return
    terminalreporter.section("cluster tier: figures per case")
    for row in CLUSTER_SUMMARY:
        terminalreporter.write_line(", ".join(f"{k}={v}" for k, v in row.items()))
