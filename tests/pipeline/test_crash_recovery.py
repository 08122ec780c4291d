"""Crashes under a steady writer: after recovery, with no manual step, the index converges to the
database and counters are exact (the outbox relay and idempotent handlers do the work)."""

from __future__ import annotations

import time

import pytest

from tests import outages
from tests.helpers import make_tenant
from tests.load import BackgroundWriter, wait_for_convergence

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _run_with_fault(fault, seconds_before: float = 3, seconds_after: float = 3) -> float:
    writer = BackgroundWriter(make_tenant(candidates=0), rate_per_second=30)
    writer.start()
    time.sleep(seconds_before)
    fault()
    time.sleep(seconds_after)
    ledger = writer.stop()
    assert len(ledger.posts) > 5
    converged_in = wait_for_convergence(ledger, timeout=90)
    print(
        f"\nconverged {converged_in:.1f}s after the writer stopped; {len(ledger.posts)} posts, "
        f"{sum(ledger.comments.values())} comments acknowledged, {len(ledger.errors)} writes refused"
    )
    return converged_in


def test_sigkill_the_indexing_and_counters_workers_mid_batch():
    assert _run_with_fault(lambda: outages.kill_worker_group(pause=2)) < 90


def test_redis_restart():
    assert _run_with_fault(outages.restart_redis) < 90


def test_elasticsearch_down_for_30_seconds():
    assert _run_with_fault(outages.elasticsearch_outage, seconds_after=5) < 90
