"""The consistency contract's edges: waiting writes, bounds with the indexer stopped, bad tokens."""

from __future__ import annotations

import time

import pytest

from shared.consistency import STATUS_HEADER, TOKEN_HEADER
from tests.conftest import apps, wait_for_workers
from tests.consistency.test_read_your_writes import word
from tests.helpers import ApiClient, make_tenant, ok_json
from tests.search_api.conftest import fresh_token

pytestmark = pytest.mark.usefixtures("pipeline")
WAIT = {"Prefer": "wait-for=indexed"}
READ_BOUND_SECONDS = 5.0  # CONSISTENCY_WAIT_SECONDS's default, which the test search API runs with


def test_a_write_that_waits_is_in_the_next_plain_read(search):
    tenant, api = make_tenant(), ApiClient()
    reader = fresh_token(tenant.staff)
    post = api.post("/api/v1/posts", {"title": word(), "body": "b"}, tenant.staff_token, **WAIT)
    assert (post.status_code, post["Preference-Applied"], post[STATUS_HEADER]) == (201, "wait-for=indexed", "reflected")
    post_id = post.json()["id"]
    for expected_count in (1, 2, 3):
        comment = api.post(
            f"/api/v1/posts/{post_id}/comments", {"body": "c"}, tenant.staff_token, Prefer="wait-for=indexed; max=4"
        )
        assert (comment.status_code, comment[STATUS_HEADER]) == (201, "reflected")
        rows = search.ok("/search/v1/posts", reader, {"id": post_id})["results"]
        assert [row["comments_count"] for row in rows] == [expected_count]  # the counter, not only the row
    title = word()
    edited = api.patch(f"/api/v1/posts/{post_id}", {"title": title}, tenant.staff_token, **WAIT)
    assert edited[STATUS_HEADER] == "reflected"
    assert [row["title"] for row in search.ok("/search/v1/posts", reader, {"id": post_id})["results"]] == [title]


def test_a_write_without_the_preference_does_not_wait(search):
    tenant, api = make_tenant(), ApiClient()
    post = api.post("/api/v1/posts", {"title": word(), "body": "b"}, tenant.staff_token)
    assert post.status_code == 201
    assert TOKEN_HEADER in post
    assert "Preference-Applied" not in post and STATUS_HEADER not in post


def test_bounds_hold_while_the_indexing_worker_is_stopped(search):
    tenant, api = make_tenant(), ApiClient()
    reader = fresh_token(tenant.staff)
    apps("stop", "worker-indexing")
    try:
        started = time.monotonic()
        post = api.post(
            "/api/v1/posts", {"title": word(), "body": "b"}, tenant.staff_token, Prefer="wait-for=indexed; max=1"
        )
        waited = time.monotonic() - started
        assert (post.status_code, post["Preference-Applied"], post[STATUS_HEADER]) == (
            201,
            "wait-for=indexed",
            "pending",
        )
        assert 1.0 <= waited < 2.0, waited  # committed and answered at the bound
        post_id, token = post.json()["id"], post[TOKEN_HEADER]

        started = time.monotonic()
        read = search.get("/search/v1/posts", reader, {"id": post_id}, headers={TOKEN_HEADER: token})
        waited = time.monotonic() - started
        assert (read.status_code, read.headers[STATUS_HEADER], read.json()["results"]) == (200, "pending", [])
        assert READ_BOUND_SECONDS <= waited < READ_BOUND_SECONDS + 1.5, waited
    finally:
        apps("start", "worker-indexing")
        wait_for_workers()
    read = search.get("/search/v1/posts", reader, {"id": post_id, "consistency_token": token})
    assert (read.status_code, read.headers[STATUS_HEADER]) == (200, "reflected")
    assert [row["id"] for row in read.json()["results"]] == [post_id]


def _a_token(tenant) -> str:
    response = ApiClient().post("/api/v1/posts", {"title": word(), "body": "b"}, tenant.staff_token)
    ok_json(response)
    return response[TOKEN_HEADER]


def test_bad_tokens_are_a_400_that_names_them_and_reveal_nothing(search):
    tenant, other = make_tenant(), make_tenant()
    reader = fresh_token(tenant.staff)
    token = _a_token(tenant)
    altered = token[:-3] + ("AAA" if token[-3:] != "AAA" else "BBB")
    flipped_body = ("B" if token[5] != "B" else "C").join((token[:5], token[6:]))
    cases = {
        "garbage": "not a token at all",
        "empty": "",
        "truncated": token[:-4],
        "extended": token + "AA",
        "altered signature": altered,
        "altered body": flipped_body,
        "another organisation's": _a_token(other),
        "unicode": "é" * len(token),
    }
    messages = {}
    for case, bad in cases.items():
        for where in ("header", "param"):
            if where == "header" and not bad.isascii():
                continue  # HTTP headers are latin-1 on the wire; the parameter carries it
            headers, params = ({TOKEN_HEADER: bad}, {}) if where == "header" else ({}, {"consistency_token": bad})
            response = search.get("/search/v1/posts", reader, params, headers=headers)
            assert response.status_code == 400, (case, where, response.status_code, response.text[:300])
            field = TOKEN_HEADER if where == "header" else "consistency_token"
            assert list(response.json()["errors"]) == [field], (case, response.text)
            messages[case] = response.json()["errors"][field]
    # A token of another organisation reads exactly like a forged one.
    assert messages["another organisation's"] == messages["altered signature"]
    both = search.get("/search/v1/posts", reader, {"consistency_token": token}, headers={TOKEN_HEADER: altered})
    assert both.status_code == 400 and "consistency_token" in both.json()["errors"]
    detail = search.get("/search/v1/posts/1/comments", reader, {"consistency_token": "x"})
    assert detail.status_code == 400
    assert search.get("/search/v1/posts", reader, {"consistency_token": token}).status_code == 200
