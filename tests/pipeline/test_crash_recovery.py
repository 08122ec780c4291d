"""Crashes under a steady writer: after recovery, with no manual step, the index converges to the
database and counters are exact (the outbox relay and idempotent handlers do the work)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CELERY_WORKERS
from tests.helpers import make_tenant
from tests.load import BackgroundWriter, wait_for_convergence

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.faults, pytest.mark.slow]


def stack(script: str, action: str) -> None:
    subprocess.run([str(ROOT / "stack" / script), action], check=True, cwd=ROOT, capture_output=True)


def apps(action: str, *components: str) -> str:
    return subprocess.run([str(ROOT / "stack" / "apps.sh"), action, *components], check=True, cwd=ROOT,
                          capture_output=True, text=True).stdout.strip()


def _run_with_fault(fault, seconds_before: float = 3, seconds_after: float = 3) -> float:
    writer = BackgroundWriter(make_tenant(candidates=0), rate_per_second=30)
    writer.start()
    time.sleep(seconds_before)
    fault()
    time.sleep(seconds_after)
    ledger = writer.stop()
    assert len(ledger.posts) > 5
    converged_in = wait_for_convergence(ledger, timeout=90)
    print(f"\nconverged {converged_in:.1f}s after the writer stopped; {len(ledger.posts)} posts, "
          f"{sum(ledger.comments.values())} comments acknowledged, {len(ledger.errors)} writes refused")
    return converged_in


def test_sigkill_the_indexing_and_counters_workers_mid_batch():
    def kill_workers():
        for component in CELERY_WORKERS:
            pid = int(apps("pid", component))
            os.killpg(pid, signal.SIGKILL)  # the whole process group: no warm shutdown, no acks
        time.sleep(2)
        # Their unacked messages wait for the broker's visibility timeout: the outbox relay must
        # recover without them.
        apps("start", *CELERY_WORKERS)

    assert _run_with_fault(kill_workers) < 90


def test_redis_restart():
    def restart_redis():
        stack("redis.sh", "stop")
        time.sleep(2)
        stack("redis.sh", "start")

    assert _run_with_fault(restart_redis) < 90


def test_elasticsearch_down_for_30_seconds():
    def outage():
        stack("elasticsearch.sh", "stop")
        time.sleep(30)
        stack("elasticsearch.sh", "start")

    assert _run_with_fault(outage, seconds_after=5) < 90
