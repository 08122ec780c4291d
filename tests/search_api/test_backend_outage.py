"""Elasticsearch or Redis unreachable: a JSON 503 with Retry-After and an unready health check,
never a 500 or a traceback. Each case runs its own short-lived search server pointed at a dead port
(the shared servers stay untouched)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from contextlib import contextmanager

import pytest
import requests

from tests.conftest import ROOT
from tests.search_api.conftest import fresh_token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def search_server_with(**env):
    port = _free_port()
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "search_api.server"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SEARCH_PORT": str(port), "SEARCH_WORKERS": "1", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/search/health/live", timeout=5)
                break
            except requests.RequestException:  # not listening yet, or still loading the app
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(
    "env",
    [{"ES_URL": "http://127.0.0.1:9"}, {"REDIS_URL": "redis://127.0.0.1:9"}],
    ids=["elasticsearch-down", "redis-down"],
)
def test_unreachable_backend_is_a_json_503(search, dataset, env):
    token = fresh_token(dataset.tenant.staff)
    with search_server_with(**env) as base:
        response = requests.get(f"{base}/search/v1/posts", headers={"Authorization": f"Token {token}"}, timeout=30)
        assert response.status_code == 503, response.text
        assert response.headers["Retry-After"] == "1"
        assert response.json() == {"errors": {"detail": ["Search is temporarily unavailable; retry shortly."]}}
        ready = requests.get(f"{base}/search/health/ready", timeout=30)
        assert ready.status_code == 503 and ready.json()["status"] == "unready"
