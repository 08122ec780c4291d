"""The faults the fault and crash-recovery suites inject, on the real stack of this namespace."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from django.db import connections

from tests.conftest import CELERY_WORKERS, ROOT, apps


def stack(script: str, *args: str) -> None:
    subprocess.run([str(ROOT / "stack" / script), *args], check=True, cwd=ROOT, capture_output=True)


def component_pid(component: str) -> int:
    return int(
        subprocess.run(
            [str(ROOT / "stack" / "apps.sh"), "pid", component], check=True, cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    )


def kill_worker_group(pause: float = 1.0) -> None:
    """SIGKILL every Celery worker's process group (no warm shutdown, no acks), then start them.
    Their unacked messages wait for the broker's visibility timeout: recovery must not."""
    for component in CELERY_WORKERS:
        os.killpg(component_pid(component), signal.SIGKILL)
    time.sleep(pause)
    apps("start", *CELERY_WORKERS)


def restart_redis() -> None:
    stack("redis.sh", "stop")
    time.sleep(2)
    stack("redis.sh", "start")


def elasticsearch_outage(seconds: float = 30) -> None:
    stack("elasticsearch.sh", "stop")
    time.sleep(seconds)
    stack("elasticsearch.sh", "start")


def restart_primary() -> None:
    stack("postgres.sh", "stop-primary")
    time.sleep(2)
    stack("postgres.sh", "start")
    # This test process's own connections died with the server: Django reconnects only from a
    # closed connection, and every later test would otherwise meet "connection already closed".
    connections.close_all()


def kill_a_gunicorn_worker() -> None:
    master = component_pid("write")
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    os.kill(int(children[0]), signal.SIGKILL)  # the master respawns it
