"""Authentication from the Redis cache only: tokens and write-side sessions, and every way they
stop being valid (expiry, revocation, deactivation, password change, a missing cache entry)."""

from __future__ import annotations

import time

import orjson
import pytest
from django_redis import get_redis_connection

from shared.auth_cache import token_key, user_key
from tests.helpers import PASSWORD, ApiClient, make_tenant
from tests.search_api.conftest import fresh_token
from write_service.accounts import auth_cache
from write_service.accounts.services import token_revoke

POSTS = "/search/v1/posts"


@pytest.fixture
def tenant_with_token(search):
    tenant = make_tenant(candidates=0)
    return tenant, fresh_token(tenant.staff)


def test_token_works(search, tenant_with_token):
    _, token = tenant_with_token
    assert search.get(POSTS, token).status_code == 200


def test_write_side_session_works_and_ends_with_a_password_change(search):
    tenant = make_tenant(candidates=0)
    client = ApiClient()
    login = client.post("/api/v1/auth/login", {"username": tenant.staff.username, "password": PASSWORD})
    assert login.status_code == 200, login.content
    session_id = login.cookies["sessionid"].value
    assert search.get(POSTS, headers={"Cookie": f"sessionid={session_id}"}).status_code == 200

    tenant.staff.set_password("a-brand-new-password")
    tenant.staff.save()
    auth_cache.cache_user(tenant.staff)  # what the write side does on every user change
    response = search.get(POSTS, headers={"Cookie": f"sessionid={session_id}"})
    assert response.status_code == 401
    assert "password changed" in response.json()["errors"]["detail"][0]


def test_logged_out_session_is_401(search):
    tenant = make_tenant(candidates=0)
    client = ApiClient()
    client.post("/api/v1/auth/login", {"username": tenant.staff.username, "password": PASSWORD})
    session_id = client.client.cookies["sessionid"].value
    assert client.post("/api/v1/auth/logout").status_code in (200, 204)
    assert search.get(POSTS, headers={"Cookie": f"sessionid={session_id}"}).status_code == 401


def test_revoked_token_is_401(search, tenant_with_token):
    tenant, token = tenant_with_token
    token_revoke(user=tenant.staff, raw_token=token)
    assert search.get(POSTS, token).status_code == 401


def test_expired_token_is_401_even_while_cached(search, tenant_with_token):
    _, token = tenant_with_token
    redis = get_redis_connection("default")
    redis.set(token_key(token), orjson.dumps({"user_id": 1, "expires_at": time.time() - 1}), ex=60)
    response = search.get(POSTS, token)
    assert response.status_code == 401
    assert "expired" in response.json()["errors"]["detail"][0]


def test_deactivated_user_is_401(search, tenant_with_token):
    tenant, token = tenant_with_token
    tenant.staff.is_active = False
    tenant.staff.save()
    auth_cache.cache_user(tenant.staff)
    assert search.get(POSTS, token).status_code == 401


def test_missing_user_entry_is_a_clear_401_not_a_database_lookup(search, tenant_with_token):
    tenant, token = tenant_with_token
    get_redis_connection("default").delete(user_key(tenant.staff.pk))
    response = search.get(POSTS, token)
    assert response.status_code == 401
    assert "call the write API once" in response.json()["errors"]["detail"][0]
    # The write API refills the entry from PostgreSQL on its next request; then reads work again.
    assert ApiClient().get("/api/v1/assessments/1", token=token).status_code in (200, 404)
    assert search.get(POSTS, token).status_code == 200


@pytest.mark.parametrize("header", ["Token", "Token a b", "Basic dXNlcjpwYXNz", "Token " + "x" * 300, "Token tökén"])
def test_malformed_authorization_header_is_401(search, header):
    response = search.get(POSTS, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["errors"]["detail"]
