"""Faults under a sustained mixed load (writes and reads from separate processes).

For each fault: the writer keeps a ledger of acknowledged writes; after recovery, with no manual
step, every acknowledged write is in the index and equal to the database's projection, counters
are exact (within 60 s), and read errors outside the fault window are zero (inside it, counted).
"""

from __future__ import annotations

import time

import pytest
import requests

from bench.http_health import wait_healthy
from tests import outages
from tests.faults.conftest import FAULT_SCALE, SUMMARY, start_load
from tests.helpers import make_tenant, wait_until
from tests.load import Ledger, index_matches_database, wait_for_convergence

pytestmark = [pytest.mark.faults, pytest.mark.slow]
GRACE_SECONDS = 3  # after a server reports healthy again, in-flight requests may still fail


FAULTS = {
    "sigkill celery workers": outages.kill_worker_group,
    "restart redis": outages.restart_redis,
    "elasticsearch down 30s": outages.elasticsearch_outage,
    "restart postgresql primary": outages.restart_primary,
    "kill a gunicorn worker": outages.kill_a_gunicorn_worker,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_under_load(fault, servers, tmp_path):
    tenant = make_tenant(candidates=0)
    before, after = 4 * FAULT_SCALE, 6 * FAULT_SCALE
    fault_budget = 45
    load = start_load(servers, tenant.staff_token, seconds=before + fault_budget + after, tmp_path=tmp_path)
    time.sleep(before)
    fault_started = time.time()
    FAULTS[fault]()
    wait_healthy(f"{servers['write']}/health/live")
    fault_ended = time.time()
    written, read = load.finish()

    ledger = Ledger(posts=written["posts"], comments={int(k): v for k, v in written["comments"].items()})
    assert written["acknowledged"] > 10, written["errors"][:5]
    converged = wait_for_convergence(ledger, timeout=60)
    lost = len(index_matches_database(ledger))
    window = (fault_started - 1, fault_ended + GRACE_SECONDS)
    errors = [(at, status) for at, status, _ in read["responses"] if status != 200]
    inside = [e for e in errors if window[0] <= e[0] <= window[1]]
    outside = [e for e in errors if not (window[0] <= e[0] <= window[1])]
    write_5xx = [e for e in written["errors"] if e[1] >= 500]
    SUMMARY.append(
        {
            "fault": fault,
            "acknowledged": written["acknowledged"],
            "lost": lost,
            "drift": lost,
            "converged_s": converged,
            "read_errors_in": len(inside),
            "read_errors_out": len(outside),
            "write_5xx": len(write_5xx),
        }
    )
    assert lost == 0
    assert not outside, outside[:5]
    assert all(e[1] in (0, 503) for e in written["errors"]), written["errors"][:5]  # refused cleanly, never a 500


def test_replica_down_reads_fall_back_to_the_primary(servers, api, tenant):
    created = api.post(
        "/api/v1/assessments",
        {"title": "fallback", "cut_off": "1", "max_score": "2", "duration_minutes": 5, "status": "published"},
        token=tenant.staff_token,
    ).json()["id"]
    outages.stack("postgres.sh", "stop-replica")
    try:
        deadline = time.time() + 20
        ready = {}
        while time.time() < deadline:
            ready = requests.get(f"{servers['write']}/health/ready", timeout=5).json()
            if ready.get("reads_from") == "primary":
                break
            time.sleep(0.5)
        assert ready["reads_from"] == "primary" and ready["checks"]["replica"]["ok"] is False
        response = requests.get(
            f"{servers['write']}/api/v1/assessments/{created}",
            headers={"Authorization": f"Token {tenant.candidate_tokens[0]}"},
            timeout=10,
        )
        assert response.status_code == 200 and response.json()["title"] == "fallback"
    finally:
        outages.stack("postgres.sh", "start")
    wait_healthy(f"{servers['write']}/health/ready")
    # Once the replica is back, reads return to it by themselves (the router retries every 10 s).
    wait_until(
        lambda: requests.get(f"{servers['write']}/health/ready", timeout=5).json()["reads_from"] == "replica",
        timeout=40,
        message="reads back on the replica",
    )
