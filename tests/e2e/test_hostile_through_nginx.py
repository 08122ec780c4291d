"""Hostile JSON through NGINX: the same clear 400 as straight to Gunicorn, and a chunked
body (NGINX de-chunks it) is read like any other."""

from __future__ import annotations

import json

import requests

from tests.e2e.test_through_nginx import nginx, staff  # noqa: F401 (fixtures)
from write_service.platform.parsers import MAX_DEPTH


def test_deep_nesting_is_a_400_through_nginx(nginx):  # noqa: F811
    response = requests.post(
        f"{nginx}/api/v1/auth/token",
        data="[" * 1000 + "]" * 1000,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"detail": [f"JSON nested deeper than {MAX_DEPTH} levels."]}}


def test_nul_and_chunked_through_nginx(nginx, staff):  # noqa: F811
    response = requests.post(
        f"{nginx}/api/v1/posts",
        data='{"title": "a\\u0000", "body": "b"}',
        headers={**staff, "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400 and list(response.json()["errors"]) == ["title"]
    chunks = iter([b'{"title": "chunked", ', b'"body": "via nginx"}'])  # a generator: requests sends it chunked
    response = requests.post(
        f"{nginx}/api/v1/posts", data=chunks, headers={**staff, "Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 201 and json.loads(response.content)["body"] == "via nginx"
