"""Hostile JSON on the write path: deep nesting, and numbers and strings Python's json
accepts but nothing behind it can store. Every one is a clear 400 in the project's error shape,
naming the field when there is one, and writes nothing."""

from __future__ import annotations

import json

import pytest
import requests

from tests import summary
from tests.conftest import counters_worker_stopped
from tests.write_service.endpoints import ENDPOINT_NAMES, json_write_endpoints
from write_service.outbox.models import OutboxEvent
from write_service.platform.parsers import MAX_DEPTH

DEPTH_ERROR = {"errors": {"detail": [f"JSON nested deeper than {MAX_DEPTH} levels."]}}


@pytest.fixture(scope="module")
def world():
    with counters_worker_stopped():  # the outbox then grows only by what a request writes
        yield json_write_endpoints()


def send(world, target: str, raw: str | bytes):
    method, path, headers, _ = world["targets"][target]
    response = getattr(world["client"], method)(path, data=raw, content_type="application/json", **headers)
    summary.record("write API (in-process)", response.status_code)
    return response


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("target", ENDPOINT_NAMES)
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 900, 1000, 50_000])
def test_deep_nesting_is_one_clear_400_everywhere(world, target, depth):
    events_before = OutboxEvent.objects.count()
    response = send(world, target, nested(depth))
    assert response.status_code == 400 and response.json() == DEPTH_ERROR, response.content[:300]
    assert OutboxEvent.objects.count() == events_before


def test_nesting_at_the_limit_is_parsed(world):
    inner = "[" * (MAX_DEPTH - 2) + '"a"' + "]" * (MAX_DEPTH - 2)  # object + field value + 62 lists = 64
    response = send(world, "comment-create", '{"body": [' + inner + "]}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["body"], response.json()  # the serializer's verdict, not the parser's


# (endpoint, field, raw JSON value, words the message must contain)
HOSTILE = [
    ("post-create", "title", '"a\\u0000b"', "NUL"),
    ("post-edit", "body", '"\\u0000"', "NUL"),
    ("comment-create", "body", '"x\\ud800y"', "surrogate"),
    ("post-create", "title", '"\\udfff"', "surrogate"),
    ("post-create", "tags", '["ok", "\\ud800"]', "surrogate"),
    ("assessment-create", "description", '"\\u0000"', "NUL"),
    ("assessment-create", "tags", '["a\\u0000"]', "NUL"),
    ("users", "username", '"nul\\u0000"', "NUL"),
    ("users", "display_name", '"\\ud83d"', "surrogate"),
    ("users", "email", '"a\\u0000@example.com"', "NUL"),
    ("users", "password", '"\\ud800\\ud800\\ud800\\ud800"', "surrogate"),
    ("token", "username", '"\\u0000"', "NUL"),
    ("token", "password", '"\\ud800"', "surrogate"),
    ("login", "password", '"\\u0000"', "NUL"),
    ("assessment-create", "duration_minutes", "9" * 5000, "64-bit"),
    ("assessment-create", "duration_minutes", str(2**64), "64-bit"),
    ("assessment-edit", "duration_minutes", str(-(2**63) - 1), "64-bit"),
    ("post-create", "assessment", str(2**63), "64-bit"),
    ("post-create", "assessment", "-" + "9" * 100_000, "64-bit"),
    ("attempt-submit", "score", "1e999999", "range"),
    ("attempt-submit", "score", "-1e999999", "range"),
    ("assessment-create", "cut_off", "1e400", "range"),
    ("assessment-create", "max_score", "NaN", "NaN"),
    ("attempt-submit", "score", "Infinity", "Infinity"),
    ("assessment-edit", "cut_off", "-Infinity", "Infinity"),
    ("comment-create", "body", "NaN", "NaN"),
    ("post-create", "assessment", "1e999999", "range"),
]


@pytest.mark.parametrize("target,field,value,words", HOSTILE, ids=[f"{t}-{f}-{v[:12]}" for t, f, v, _ in HOSTILE])
def test_hostile_values_are_a_400_naming_the_field(world, target, field, value, words):
    body = world["targets"][target][3]
    others = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in body.items() if k != field)
    events_before = OutboxEvent.objects.count()
    response = send(world, target, "{" + (others + ", " if others else "") + f'"{field}": {value}' + "}")
    assert response.status_code == 400, response.content[:300]
    errors = response.json()["errors"]
    assert list(errors) == [field], errors
    assert words in " ".join(errors[field]), errors
    assert OutboxEvent.objects.count() == events_before


def test_hostile_keys_and_non_object_bodies_are_named_too(world):
    response = send(world, "post-create", '{"title": "t", "body": "b", "\\ud800": 1}')
    assert response.status_code == 400 and response.json()["errors"] == {
        "non_field_errors": ["Key: Invalid Unicode: lone surrogate."]
    }
    response = send(world, "post-create", '["\\u0000"]')
    assert response.status_code == 400 and response.json()["errors"] == {
        "non_field_errors": ["[0]: NUL characters are not allowed."]
    }
    response = send(world, "post-create", b'{"title": "\xff"}')
    assert response.status_code == 400 and response.json()["errors"] == {"detail": ["Request body is not valid utf-8."]}


def test_valid_unicode_and_large_valid_numbers_still_work(world):
    response = send(world, "comment-create", json.dumps({"body": "emoji \U0001f600 and \u00e9"}))
    assert response.status_code == 201 and response.json()["body"] == "emoji \U0001f600 and \u00e9"
    response = send(world, "post-create", json.dumps({"title": "t", "body": "b", "assessment": 2**63 - 1}))
    assert response.status_code == 400 and list(response.json()["errors"]) == ["assessment"]
    assert "No such assessment" in response.json()["errors"]["assessment"][0]


def test_deep_nesting_over_http_to_gunicorn(write_server):
    response = requests.post(
        f"{write_server}/api/v1/auth/token", data=nested(1000), timeout=10, headers={"Content-Type": "application/json"}
    )
    summary.record("write API (HTTP)", response.status_code)
    assert response.status_code == 400 and response.json() == DEPTH_ERROR
