"""Exact SQL per write endpoint: a change in any count is a visible, reviewed change.

Warm caches (token and user in Redis) mean authentication itself adds no query. Row changes cost
no statement of their own: the capture triggers write the outbox row inside the row's statement.
Every authenticated write then reads its consistency token's bounds, after COMMIT
(docs/CONSISTENCY.md): one more query, counted as TOKEN below.
"""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, assert_num_queries

TOKEN = 1
ASSESSMENT = {"title": "Counted", "cut_off": "50", "max_score": "100", "duration_minutes": 30, "status": "published"}


@pytest.fixture
def published(api, tenant) -> int:
    return api.post("/api/v1/assessments", ASSESSMENT, token=tenant.staff_token).json()["id"]


def test_assessment_create_queries(api, tenant):
    # BEGIN, INSERT assessment (its trigger records the change), COMMIT.
    with assert_num_queries(3 + TOKEN):
        assert api.post("/api/v1/assessments", ASSESSMENT, token=tenant.staff_token).status_code == 201


def test_assessment_create_with_idempotency_key_queries(api, tenant):
    # + advisory lock, key lookup, SAVEPOINT/RELEASE of the service, expired-key DELETE, record INSERT.
    with assert_num_queries(9 + TOKEN):
        assert (
            api.post(
                "/api/v1/assessments", ASSESSMENT, token=tenant.staff_token, **{"Idempotency-Key": "q"}
            ).status_code
            == 201
        )


def test_assessment_update_queries(api, tenant, published):
    # BEGIN, SELECT ... FOR UPDATE, UPDATE (its trigger records the change), COMMIT.
    with assert_num_queries(4 + TOKEN):
        assert (
            api.patch(f"/api/v1/assessments/{published}", {"cut_off": "55"}, token=tenant.staff_token).status_code
            == 200
        )


def test_assessment_delete_queries(api, tenant, published):
    with assert_num_queries(4 + TOKEN):
        assert api.delete(f"/api/v1/assessments/{published}", token=tenant.staff_token).status_code == 204


def test_attempt_start_and_submit_queries(api, tenant, published):
    with assert_num_queries(4 + TOKEN):  # BEGIN, SELECT assessment, INSERT attempt, COMMIT
        response = api.post(f"/api/v1/assessments/{published}/attempts", {}, token=tenant.candidate_tokens[0])
    assert response.status_code == 201
    with assert_num_queries(4 + TOKEN):  # BEGIN, SELECT FOR UPDATE (joined assessment), UPDATE, COMMIT
        assert (
            api.post(
                f"/api/v1/attempts/{response.json()['id']}/submit", {"score": "5"}, token=tenant.candidate_tokens[0]
            ).status_code
            == 200
        )


def test_post_and_comment_queries(api, tenant):
    with assert_num_queries(3 + TOKEN):
        post = api.post("/api/v1/posts", {"title": "t", "body": "b"}, token=tenant.candidate_tokens[0])
    assert post.status_code == 201
    post_id = post.json()["id"]
    with assert_num_queries(4 + TOKEN):
        assert (
            api.patch(f"/api/v1/posts/{post_id}", {"title": "t2"}, token=tenant.candidate_tokens[0]).status_code == 200
        )
    with assert_num_queries(4 + TOKEN):  # BEGIN, SELECT post, INSERT comment, COMMIT: never an UPDATE of the post
        comment = api.post(f"/api/v1/posts/{post_id}/comments", {"body": "c"}, token=tenant.candidate_tokens[1])
    assert comment.status_code == 201
    with assert_num_queries(4 + TOKEN):
        assert (
            api.delete(f"/api/v1/comments/{comment.json()['id']}", token=tenant.candidate_tokens[1]).status_code == 204
        )
    with assert_num_queries(4 + TOKEN):
        assert api.delete(f"/api/v1/posts/{post_id}", token=tenant.candidate_tokens[0]).status_code == 204


def test_user_create_and_token_queries(api, tenant, unique):
    with assert_num_queries(4 + TOKEN):  # BEGIN, username check, INSERT user, COMMIT (then cached from memory)
        assert (
            api.post(
                "/api/v1/users",
                {"username": f"q-{unique}", "password": PASSWORD, "role": "candidate"},
                token=tenant.staff_token,
            ).status_code
            == 201
        )
    with assert_num_queries(4):  # BEGIN, SELECT user (password check), INSERT token, COMMIT
        assert api.post("/api/v1/auth/token", {"username": f"q-{unique}", "password": PASSWORD}).status_code == 201
