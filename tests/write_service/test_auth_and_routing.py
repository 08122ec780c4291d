"""Sessions and users from Redis (no SQL once warm) and primary/replica routing."""

from __future__ import annotations

import json

from django.db import connections
from django.test import Client

from shared.auth_cache import token_key
from tests.helpers import PASSWORD, assert_num_queries, wait_until
from write_service.accounts.auth_cache import _redis
from write_service.platform import db_router


def test_warm_token_authentication_runs_no_sql(api, tenant):
    published = api.post(
        "/api/v1/assessments",
        {"title": "t", "cut_off": "1", "max_score": "2", "duration_minutes": 5, "status": "published"},
        token=tenant.staff_token,
    ).json()["id"]
    wait_until(lambda: _replica_has("assessments_assessment", published), message="replication")
    connections["replica"].ensure_connection()
    db_router._replica_down_until = 0
    # One SELECT on the replica for the assessment itself, and nothing at all for authentication.
    with assert_num_queries(1) as captured:
        response = api.get(f"/api/v1/assessments/{published}", token=tenant.candidate_tokens[0])
    assert response.status_code == 200
    assert len(captured["replica"].captured_queries) == 1


def test_warm_session_authentication_runs_no_sql(tenant):
    browser = Client()
    login = browser.post(
        "/api/v1/auth/login",
        data=json.dumps({"username": tenant.candidates[0].username, "password": PASSWORD}),
        content_type="application/json",
    )
    assert login.status_code == 200
    # The only SQL is the lookup of the (missing) assessment itself: session and user come from Redis.
    with assert_num_queries(1) as captured:
        response = browser.get("/api/v1/assessments/999999999")
    assert response.status_code == 404  # authenticated: an anonymous client would get 403
    assert "assessments_assessment" in captured["replica"].captured_queries[0]["sql"]
    assert Client().get("/api/v1/assessments/999999999").status_code in (401, 403)


def test_revoked_and_expired_tokens_get_401(api, tenant):
    token = tenant.candidate_tokens[0]
    assert api.post("/api/v1/auth/token/revoke", {}, token=token).status_code == 204
    assert api.post("/api/v1/posts", {"title": "t", "body": "b"}, token=token).status_code == 401
    fresh = api.post("/api/v1/auth/token", {"username": tenant.candidates[1].username, "password": PASSWORD}).json()[
        "token"
    ]
    raw = json.loads(_redis().get(token_key(fresh)))
    _redis().set(token_key(fresh), json.dumps({**raw, "expires_at": 1.0}))
    assert api.post("/api/v1/posts", {"title": "t", "body": "b"}, token=fresh).status_code == 401


def _replica_has(table: str, row_id: int) -> bool:
    with connections["replica"].cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s", [row_id])
        return cursor.fetchone() is not None


def test_reads_go_to_the_replica_unless_the_client_just_wrote(api, tenant):
    assert db_router.read_alias() == "replica"
    token = db_router.pin_to_primary(True)
    try:
        assert db_router.read_alias() == "default"
    finally:
        db_router.unpin(token)
    # Through the API: right after a write the same user's read is served by the primary.
    created = api.post(
        "/api/v1/assessments",
        {"title": "ryw", "cut_off": "1", "max_score": "2", "duration_minutes": 5, "status": "published"},
        token=tenant.staff_token,
    ).json()["id"]
    with assert_num_queries(1) as captured:
        assert api.get(f"/api/v1/assessments/{created}", token=tenant.staff_token).status_code == 200
    assert len(captured["default"].captured_queries) == 1 and not captured["replica"].captured_queries
