"""Fuzzing every write endpoint with arbitrary JSON: no 5xx, every 4xx names what was wrong, and a
rejected request writes nothing (no row, no event)."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from write_service.outbox.models import OutboxEvent
from tests.helpers import make_tenant

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=60),
    st.sampled_from(["", "published", "easy", "staff", "99.999", "-1", "1e308", "NaN", "<script>", "' OR 1=1 --"]),
)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
FIELDS = ["title", "description", "tags", "difficulty", "status", "cut_off", "max_score", "duration_minutes", "score",
          "body", "assessment", "username", "password", "role", "display_name", "email"]
bodies = st.one_of(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8), json_values)


@pytest.fixture(scope="module")
def world():
    tenant = make_tenant(candidates=1)
    client = Client()
    staff = {"HTTP_AUTHORIZATION": f"Token {tenant.staff_token}"}
    candidate = {"HTTP_AUTHORIZATION": f"Token {tenant.candidate_tokens[0]}"}
    assessment = client.post("/api/v1/assessments", data={"title": "fuzz", "cut_off": "5", "max_score": "10",
                              "duration_minutes": 5, "status": "published"}, content_type="application/json", **staff).json()["id"]
    attempt = client.post(f"/api/v1/assessments/{assessment}/attempts", data={}, content_type="application/json", **candidate).json()["id"]
    post = client.post("/api/v1/posts", data={"title": "fuzz", "body": "b"}, content_type="application/json", **staff).json()["id"]
    return {
        "targets": [
            ("post", "/api/v1/assessments", staff), ("patch", f"/api/v1/assessments/{assessment}", staff),
            ("post", f"/api/v1/attempts/{attempt}/submit", candidate), ("post", "/api/v1/posts", staff),
            ("patch", f"/api/v1/posts/{post}", staff), ("post", f"/api/v1/posts/{post}/comments", staff),
            ("post", "/api/v1/users", staff), ("post", "/api/v1/auth/token", {}),
            ("post", f"/api/v1/assessments/{assessment}/attempts", staff),
        ],
        "client": client,
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.integers(min_value=0, max_value=8), body=bodies, raw=st.booleans())
def test_no_5xx_and_nothing_half_written(world, target, body, raw):
    method, path, headers = world["targets"][target]
    payload = json.dumps(body) if not raw else json.dumps(body)[:-1] or "{"
    events_before = OutboxEvent.objects.count()
    response = getattr(world["client"], method)(path, data=payload, content_type="application/json", **headers)
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        errors = response.json()["errors"]
        assert errors and all(isinstance(m, list) and m and all(isinstance(x, str) for x in m) for m in errors.values())
        assert OutboxEvent.objects.count() == events_before
