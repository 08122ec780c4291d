"""A Celery worker serves its pool processes' task metrics on CELERY_METRICS_BIND, as each worker
container of compose/ does (read_indexer/observability/metrics.py): a real worker, its own multiprocess
directory, a private queue (so no other worker of this namespace takes the probe tasks).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import uuid

import requests
from prometheus_client.parser import text_string_to_metric_families

from read_indexer import task_names
from read_indexer.celery_app import app as celery_app
from tests.conftest import ROOT
from tests.helpers import wait_until


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ping_successes(url: str) -> float:
    try:
        text = requests.get(url, timeout=2).text
    except requests.RequestException:
        return -1
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "celery_task_runs"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels == {"task": task_names.PING, "state": "SUCCESS"}
    )


def test_worker_exposes_the_task_metrics_of_all_its_pool_processes(tmp_path):
    port, queue = _free_port(), f"metrics-probe-{uuid.uuid4().hex[:8]}"
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    env = {**os.environ, "CELERY_METRICS_BIND": f"127.0.0.1:{port}", "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir)}
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "read_indexer.celery_app",
                "worker",
                "-Q",
                queue,
                "-c",
                "2",
                "-n",
                f"{queue}@%h",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        wait_until(lambda: _ping_successes(url) >= 0, timeout=60, message="the worker's metrics endpoint")
        for i in range(6):
            celery_app.send_task(task_names.PING, args=[f"{queue}-{i}"], queue=queue)
        wait_until(
            lambda: _ping_successes(url) == 6,
            timeout=60,
            message=f"6 successful pings in {url} (log: {tmp_path / 'worker.log'})",
        )
        text = requests.get(url, timeout=2).text
        assert f'celery_task_duration_seconds_count{{task="{task_names.PING}"}} 6.0' in text
        # One file per process that recorded samples: the pool children wrote them, not the server.
        pids = {path.stem.rsplit("_", 1)[1] for path in multiproc_dir.glob("counter_*.db")}
        assert pids and str(worker.pid) not in pids
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
