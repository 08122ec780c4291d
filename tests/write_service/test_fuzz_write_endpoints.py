"""Fuzzing every write endpoint with arbitrary JSON: no 5xx, every 4xx names what was wrong, and a
rejected request writes nothing (no row, no event)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import counters_worker_stopped
from tests.write_service.endpoints import ENDPOINT_NAMES, json_write_endpoints
from write_service.outbox.models import OutboxEvent

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=60),
    st.sampled_from(["", "published", "easy", "staff", "99.999", "-1", "1e308", "NaN", "<script>", "' OR 1=1 --"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = [
    "title",
    "description",
    "tags",
    "difficulty",
    "status",
    "cut_off",
    "max_score",
    "duration_minutes",
    "score",
    "body",
    "assessment",
    "username",
    "password",
    "role",
    "display_name",
    "email",
]
bodies = st.one_of(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8), json_values)


@pytest.fixture(scope="module")
def world():
    with counters_worker_stopped():  # the outbox then grows only by what a request writes
        endpoints = json_write_endpoints()
        yield {"client": endpoints["client"], "targets": list(endpoints["targets"].values())}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=st.integers(min_value=0, max_value=len(ENDPOINT_NAMES) - 1), body=bodies, raw=st.booleans())
def test_no_5xx_and_nothing_half_written(world, target, body, raw):
    method, path, headers, _ = world["targets"][target]
    payload = json.dumps(body) if not raw else json.dumps(body)[:-1] or "{"
    events_before = OutboxEvent.objects.count()
    response = getattr(world["client"], method)(path, data=payload, content_type="application/json", **headers)
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        errors = response.json()["errors"]
        assert errors and all(isinstance(m, list) and m and all(isinstance(x, str) for x in m) for m in errors.values())
        assert OutboxEvent.objects.count() == events_before
