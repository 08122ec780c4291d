"""End to end through NGINX: the real stack/conf/nginx.conf, rendered by stack/nginx.sh
for APP_ENV=test (port 8180, or NGINX_PORT), in front of the real Gunicorn processes of
stack/apps.sh. Every request here goes over HTTP through NGINX; only the organisation itself is
created in-process (there is no HTTP endpoint for it; `manage.py create_org` does the same).
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ROOT, apps
from tests.helpers import PASSWORD, wait_until
from write_service.accounts.services import organisation_create

NAMESPACE = os.environ.get("STACK_NAMESPACE", "test")
LOG_DIR = Path(os.environ.get("STACK_LOGS", f"{os.environ.get('STACK_HOME', '/var/lib/cqrs-stack')}/logs")) / NAMESPACE
BODY_LIMIT = 256 * 1024  # write_service/settings/base.py DATA_UPLOAD_MAX_MEMORY_SIZE


def _nginx(action: str) -> None:
    subprocess.run([str(ROOT / "stack" / "nginx.sh"), action], check=True, cwd=ROOT)


@pytest.fixture(scope="module")
def nginx(write_server) -> str:
    """collectstatic (the files NGINX serves), the write service, and NGINX for this namespace."""
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "collectstatic", "--no-input", "-v0"],
        check=True,
        cwd=ROOT,
    )
    _nginx("restart")  # restarted, so it runs the current nginx.conf
    yield f"http://127.0.0.1:{os.environ.get('NGINX_PORT', '8180')}"
    _nginx("stop")


@pytest.fixture(scope="module")
def staff(nginx) -> dict:
    """An organisation (in-process), then its staff's token over HTTP through NGINX."""
    suffix = uuid.uuid4().hex[:10]
    organisation_create(name=f"e2e-{suffix}", admin_username=f"e2e-staff-{suffix}", admin_password=PASSWORD)
    response = requests.post(
        f"{nginx}/api/v1/auth/token", json={"username": f"e2e-staff-{suffix}", "password": PASSWORD}, timeout=10
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Token {response.json()['token']}"}


def _assessment(title: str = "through nginx", **extra) -> dict:
    return {"title": title, "cut_off": "5", "max_score": "10", "duration_minutes": 30, "status": "published", **extra}


def _log_lines(name: str) -> list[dict]:
    lines = []
    path = LOG_DIR / name
    for raw in path.read_text(errors="replace").splitlines() if path.exists() else []:
        if raw.startswith("{"):
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
    return lines


def test_user_and_assessment_created_over_http_through_nginx(nginx, staff):
    name = f"cand-{uuid.uuid4().hex[:10]}"
    user = requests.post(
        f"{nginx}/api/v1/users",
        headers=staff,
        timeout=10,
        json={"username": name, "password": PASSWORD, "role": "candidate", "display_name": "Ada"},
    )
    assert user.status_code == 201, user.text
    candidate_token = requests.post(
        f"{nginx}/api/v1/auth/token", json={"username": name, "password": PASSWORD}, timeout=10
    ).json()["token"]

    created = requests.post(f"{nginx}/api/v1/assessments", json=_assessment(), headers=staff, timeout=10)
    assert created.status_code == 201, created.text
    assert "Server-Timing" in created.headers  # answered by write_service itself, through NGINX
    assessment_id = created.json()["id"]

    fetched = requests.get(
        f"{nginx}/api/v1/assessments/{assessment_id}", headers={"Authorization": f"Token {candidate_token}"}, timeout=10
    )
    assert fetched.status_code == 200 and fetched.json()["title"] == "through nginx"


def test_routing_api_to_write_service_and_everything_else_is_a_json_404(nginx, staff):
    unknown_api = requests.get(f"{nginx}/api/v1/no-such-thing", headers=staff, timeout=10)
    assert unknown_api.status_code == 404 and "Server-Timing" in unknown_api.headers  # the app's 404
    live = requests.get(f"{nginx}/health/live", timeout=10)
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    outside = requests.get(f"{nginx}/wp-admin/", timeout=10)
    assert outside.status_code == 404 and "Server-Timing" not in outside.headers  # NGINX's own
    assert outside.json() == {"errors": {"detail": ["Not found."]}}


def test_readiness_through_nginx_reports_the_replica(nginx):
    ready = requests.get(f"{nginx}/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["reads_from"] in ("replica", "primary")
    replica = body["checks"]["replica"]
    assert replica["ok"] and replica["in_recovery"] is True and replica["lag_seconds"] >= 0


def test_request_id_is_kept_end_to_end_and_logged_as_json(nginx, staff):
    request_id = f"e2e-{uuid.uuid4().hex}"
    response = requests.get(f"{nginx}/api/v1/no-such-thing", headers={**staff, "X-Request-ID": request_id}, timeout=10)
    assert response.headers["X-Request-ID"] == request_id
    # Gunicorn received it (its JSON access log), and NGINX logged the request as JSON too.
    wait_until(
        lambda: any(line.get("request_id") == request_id for line in _log_lines("write.log")),
        timeout=10,
        message="the request id in Gunicorn's access log",
    )
    entry = wait_until(
        lambda: next((line for line in _log_lines("nginx-access.log") if line.get("request_id") == request_id), None),
        timeout=10,
        message="the request in NGINX's JSON access log",
    )
    assert entry["status"] == 404 and entry["path"] == "/api/v1/no-such-thing" and entry["upstream_status"] == "404"

    generated = requests.get(f"{nginx}/health/live", headers={"X-Request-ID": "bad id with spaces"}, timeout=10)
    assert len(generated.headers["X-Request-ID"]) == 32 and " " not in generated.headers["X-Request-ID"]


def test_oversized_body_is_refused_by_nginx_before_gunicorn(nginx, staff):
    request_id = f"e2e-big-{uuid.uuid4().hex}"
    padding = "x" * BODY_LIMIT
    too_big = requests.post(
        f"{nginx}/api/v1/assessments",
        data=json.dumps(_assessment(description=padding)),
        headers={**staff, "Content-Type": "application/json", "X-Request-ID": request_id},
        timeout=10,
    )
    assert too_big.status_code == 413
    assert too_big.json() == {"errors": {"detail": ["Request body too large."]}}
    assert "Server-Timing" not in too_big.headers  # NGINX answered; no Gunicorn worker read the body
    assert not any(line.get("request_id") == request_id for line in _log_lines("write.log"))

    # Exactly at the limit NGINX lets it through: the app decides (a field error, not a 413).
    envelope = len(json.dumps(_assessment(description="")).encode())
    at_limit = json.dumps(_assessment(description="x" * (BODY_LIMIT - envelope)))
    assert len(at_limit.encode()) == BODY_LIMIT
    response = requests.post(
        f"{nginx}/api/v1/assessments", data=at_limit, headers={**staff, "Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 400 and "Server-Timing" in response.headers, response.text[:500]
    assert "description" in response.json()["errors"]


def test_gzip_on_json(nginx, staff):
    response = requests.get(
        f"{nginx}/api/v1/schema",
        params={"format": "json"},
        headers={**staff, "Accept-Encoding": "gzip"},
        timeout=10,
        stream=True,
    )
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    raw = response.raw.read(decode_content=False)
    assert json.loads(gzip.decompress(raw))["openapi"].startswith("3.")


def _a_hashed_static_file() -> tuple[str, str]:
    manifest = json.loads((ROOT / "var" / "static" / "staticfiles.json").read_text())["paths"]
    original = next(name for name in sorted(manifest) if name.endswith(".css"))
    return original, manifest[original]


def test_hashed_static_files_are_cached_for_a_year(nginx):
    original, hashed = _a_hashed_static_file()
    response = requests.get(f"{nginx}/static/{hashed}", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["Content-Type"].startswith("text/css")
    assert response.headers.get("Content-Encoding") == "gzip"

    unhashed = requests.get(f"{nginx}/static/{original}", timeout=10)
    assert unhashed.status_code == 200 and unhashed.headers["Cache-Control"] == "public, max-age=300"
    assert requests.get(f"{nginx}/static/staticfiles.json", timeout=10).status_code == 404
    missing = requests.get(f"{nginx}/static/no/such/file.css", timeout=10)
    assert missing.status_code == 404 and missing.json() == {"errors": {"detail": ["Not found."]}}


def test_metrics_exposition_through_nginx(nginx, staff):
    created = requests.post(f"{nginx}/api/v1/assessments", json=_assessment("metrics"), headers=staff, timeout=10)
    assert created.status_code == 201
    response = requests.get(f"{nginx}/metrics", timeout=10)
    assert response.status_code == 200
    # The text exposition format (prometheus_client 0.26 labels it version=1.0.0, older 0.0.4).
    assert re.fullmatch(r"text/plain; version=(0\.0\.4|1\.0\.0); charset=utf-8", response.headers["Content-Type"])
    families = {family.name: family for family in text_string_to_metric_families(response.text)}

    latency = families["http_request_duration_seconds"]
    routes = {
        (s.labels["route"], s.labels["method"], s.labels["status"])
        for s in latency.samples
        if s.labels.get("service") == "write"
    }
    assert ("api/v1/assessments", "POST", "201") in routes
    assert not any(re.search(r"/\d+(/|$)", route) for route, _, _ in routes), "URL patterns, never paths with ids"
    sql = families["http_request_sql_seconds"]
    assert any(
        s.labels.get("route") == "api/v1/assessments" and s.name.endswith("_count") and s.value >= 1
        for s in sql.samples
    )
    assert "http_request_sql_queries" in families and "db_queries" in families
    # Scrape-time gauges: replica lag, outbox backlog, queue depths, indexing lag.
    assert families["pg_replica_up"].samples[0].value == 1
    assert "pg_replica_lag_seconds" in families
    stages = {s.labels["stage"] for s in families["outbox_backlog_events"].samples}
    assert stages == {"indexing", "counters"}
    assert {s.labels["queue"] for s in families["celery_queue_length"].samples} == {
        "indexing",
        "counters",
        "fanout",
        "maintenance",
    }
    assert "pipeline_indexing_lag_samples" in families
    assert all(s.value == 1 for s in families["pipeline_metrics_source_up"].samples)


def test_metrics_are_refused_from_other_addresses(nginx):
    # Another loopback address stands in for "not this host": NGINX allows 127.0.0.1 only.
    port = int(nginx.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert response.status == 403
        assert json.loads(response.read()) == {"errors": {"detail": ["Forbidden."]}}
    finally:
        connection.close()


def test_celery_task_metrics_reach_the_write_services_metrics(nginx, staff, pipeline):
    """Natively all processes of a namespace share one PROMETHEUS_MULTIPROC_DIR (stack/apps.sh):
    the workers' task counters, recorded in their pool processes, show up in write's /metrics."""
    created = requests.post(
        f"{nginx}/api/v1/assessments", json=_assessment("celery metrics"), headers=staff, timeout=10
    )
    assert created.status_code == 201

    def projected() -> bool:
        text = requests.get(f"{nginx}/metrics", timeout=10).text
        runs = [
            s
            for family in text_string_to_metric_families(text)
            if family.name == "celery_task_runs"
            for s in family.samples
            if s.labels.get("task") == "read_indexer.project_events_task"
            and s.labels.get("state") == "SUCCESS"
            and s.name.endswith("_total")
        ]
        return bool(runs) and runs[0].value >= 1

    wait_until(projected, timeout=60, message="celery_task_runs_total of project_events_task")
    text = requests.get(f"{nginx}/metrics", timeout=10).text
    assert 'celery_task_duration_seconds_count{task="read_indexer.project_events_task"}' in text


@pytest.fixture(scope="module")
def search_through_nginx(nginx):
    """The search service behind NGINX, when search_api exists (it is built in parallel)."""
    if not (ROOT / "search_api" / "wsgi.py").exists():
        pytest.skip("search_api/wsgi.py does not exist yet")
    port = os.environ.get("TEST_SEARCH_PORT", "8101")
    already_running = (
        subprocess.run([str(ROOT / "stack" / "apps.sh"), "status", "search"], cwd=ROOT, capture_output=True).returncode
        == 0
    )
    if not already_running:
        apps("start", "search")
    yield f"http://127.0.0.1:{port}"
    if not already_running:
        apps("stop", "search")


def test_search_goes_to_the_search_service(nginx, staff, search_through_nginx):
    response = requests.get(f"{nginx}/search/v1/assessments", headers=staff, params={"page_size": 5}, timeout=30)
    assert response.status_code == 200, response.text[:1000]
    body = response.json()
    assert {"results", "count", "next"} <= set(body)
    live = requests.get(f"{nginx}/search/health/live", timeout=10)
    assert live.status_code == 200


def test_search_metrics_show_route_latency_and_elasticsearch_time(nginx, staff, search_through_nginx):
    listed = requests.get(f"{nginx}/search/v1/assessments", headers=staff, params={"page_size": 3}, timeout=30)
    assert listed.status_code == 200, listed.text[:1000]
    families = {
        f.name: f for f in text_string_to_metric_families(requests.get(f"{nginx}/search/metrics", timeout=10).text)
    }

    def count(family: str, **labels) -> float:
        return sum(
            s.value
            for s in families[family].samples
            if s.name.endswith("_count") and all(s.labels.get(k) == v for k, v in labels.items())
        )

    route = {"service": "search", "route": "search/v1/assessments", "method": "GET"}
    assert count("http_request_duration_seconds", status="200", **route) >= 1
    assert count("http_request_search_seconds", **route) >= 1
    search_routes = {
        s.labels["route"]
        for s in families["http_request_duration_seconds"].samples
        if s.labels.get("service") == "search"
    }
    assert not any(re.search(r"/\d+(/|$)", r) for r in search_routes), "URL patterns, never paths with ids"
