"""The write API contract: flows, field errors, status codes, tenancy, idempotency keys."""

from __future__ import annotations

import json

from django.core.management import call_command
from django.test import Client

from tests.helpers import PASSWORD, row_changes
from write_service.accounts.models import User
from write_service.assessments.models import Assessment, Attempt
from write_service.discussions.models import Comment, Post
from write_service.outbox.models import OutboxEvent

ASSESSMENT = {
    "title": "SQL window functions",
    "cut_off": "60",
    "max_score": "100",
    "duration_minutes": 45,
    "status": "published",
    "tags": ["sql", "postgres"],
    "difficulty": "hard",
}


def _published(api, tenant, **overrides) -> int:
    response = api.post("/api/v1/assessments", {**ASSESSMENT, **overrides}, token=tenant.staff_token)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def test_full_candidate_flow(api, tenant, capsys, unique):
    call_command("create_org", f"acme-{unique}", admin=f"boss-{unique}", password=PASSWORD)
    assert f"acme-{unique}" in capsys.readouterr().out
    token = api.post("/api/v1/auth/token", {"username": f"boss-{unique}", "password": PASSWORD}).json()["token"]
    created = api.post(
        "/api/v1/users",
        {"username": f"c-{unique}", "password": PASSWORD, "role": "candidate", "display_name": "Ada"},
        token=token,
    )
    assert created.status_code == 201 and created.json()["display_name"] == "Ada"
    assessment_id = api.post("/api/v1/assessments", ASSESSMENT, token=token).json()["id"]
    candidate_token = api.post("/api/v1/auth/token", {"username": f"c-{unique}", "password": PASSWORD}).json()["token"]
    attempt = api.post(f"/api/v1/assessments/{assessment_id}/attempts", {}, token=candidate_token)
    assert attempt.status_code == 201 and attempt.json()["status"] == "started"
    submitted = api.post(f"/api/v1/attempts/{attempt.json()['id']}/submit", {"score": "72.5"}, token=candidate_token)
    assert submitted.status_code == 200
    body = submitted.json()
    assert body["status"] == "submitted" and body["score"] == "72.50" and body["submitted_at"] is not None


def test_field_errors_name_every_bad_field(api, tenant):
    response = api.post(
        "/api/v1/assessments",
        {"title": "", "cut_off": "abc", "difficulty": "nightmare", "duration_minutes": 0, "colour": "red"},
        token=tenant.staff_token,
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {"title", "cut_off", "max_score", "difficulty", "duration_minutes", "colour"} <= set(errors)
    assert all(isinstance(messages, list) and messages for messages in errors.values())
    assert "Unknown field" in errors["colour"][0]


def test_business_rules_are_400s_with_field_messages(api, tenant):
    response = api.post("/api/v1/assessments", {**ASSESSMENT, "cut_off": "150"}, token=tenant.staff_token)
    assert response.status_code == 400 and "cut_off" in response.json()["errors"]
    assessment_id = _published(api, tenant)
    attempt_id = api.post(f"/api/v1/assessments/{assessment_id}/attempts", {}, token=tenant.candidate_tokens[0]).json()[
        "id"
    ]
    over = api.post(f"/api/v1/attempts/{attempt_id}/submit", {"score": "100.01"}, token=tenant.candidate_tokens[0])
    assert over.status_code == 400 and "score" in over.json()["errors"]
    assert Attempt.objects.get(pk=attempt_id).status == "started"  # nothing half-written


def test_status_codes_401_403_404_409_413_415(api, tenant, other_tenant):
    assert api.post("/api/v1/assessments", ASSESSMENT).status_code == 401
    assert api.post("/api/v1/assessments", ASSESSMENT, token="not-a-token").status_code == 401
    assert api.post("/api/v1/assessments", ASSESSMENT, token=tenant.candidate_tokens[0]).status_code == 403
    draft_id = _published(api, tenant, status="draft")
    # Another organisation's assessment looks exactly like one that does not exist.
    foreign = api.patch(f"/api/v1/assessments/{draft_id}", {"title": "x"}, token=other_tenant.staff_token)
    missing = api.patch("/api/v1/assessments/999999999", {"title": "x"}, token=other_tenant.staff_token)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert api.get(f"/api/v1/assessments/{draft_id}", token=other_tenant.staff_token).status_code == 404
    assert api.post(f"/api/v1/assessments/{draft_id}/attempts", {}, token=tenant.candidate_tokens[0]).status_code == 404
    published_id = _published(api, tenant)
    attempt_id = api.post(f"/api/v1/assessments/{published_id}/attempts", {}, token=tenant.candidate_tokens[0]).json()[
        "id"
    ]
    assert (
        api.post(f"/api/v1/assessments/{published_id}/attempts", {}, token=tenant.candidate_tokens[0]).status_code
        == 409
    )
    assert (
        api.post(f"/api/v1/attempts/{attempt_id}/submit", {"score": "10"}, token=tenant.candidate_tokens[0]).status_code
        == 200
    )
    assert (
        api.post(f"/api/v1/attempts/{attempt_id}/submit", {"score": "10"}, token=tenant.candidate_tokens[0]).status_code
        == 409
    )
    # Someone else's attempt: 404, not 403.
    assert (
        api.post(f"/api/v1/attempts/{attempt_id}/submit", {"score": "10"}, token=tenant.candidate_tokens[1]).status_code
        == 404
    )
    huge = {**ASSESSMENT, "description": "x" * 300_000}
    too_big = api.post("/api/v1/assessments", huge, token=tenant.staff_token)
    assert too_big.status_code == 413 and "errors" in too_big.json()
    wrong_type = Client().post(
        "/api/v1/assessments",
        data="title=x",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Token {tenant.staff_token}",
    )
    assert wrong_type.status_code == 415
    malformed = Client().post(
        "/api/v1/assessments",
        data="{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {tenant.staff_token}",
    )
    assert malformed.status_code == 400 and "errors" in malformed.json()


def test_idempotency_key_replays_and_writes_once(api, tenant):
    before = Post.objects.filter(organisation=tenant.organisation).count()
    events_before = OutboxEvent.objects.count()
    body = {"title": "Retry me", "body": "once", "tags": ["meta"]}
    first = api.post("/api/v1/posts", body, token=tenant.staff_token, **{"Idempotency-Key": "post-1"})
    second = api.post("/api/v1/posts", body, token=tenant.staff_token, **{"Idempotency-Key": "post-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
    assert Post.objects.filter(organisation=tenant.organisation).count() == before + 1
    assert row_changes(Post, first.json()["id"]).filter(payload__op="insert").count() == 1
    assert OutboxEvent.objects.count() >= events_before + 1
    changed = api.post(
        "/api/v1/posts", {**body, "body": "twice"}, token=tenant.staff_token, **{"Idempotency-Key": "post-1"}
    )
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json()["errors"]
    # Keys are per user: another user may use the same key for their own request.
    other = api.post("/api/v1/posts", body, token=tenant.candidate_tokens[0], **{"Idempotency-Key": "post-1"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_posts_and_comments_permissions(api, tenant, other_tenant):
    post = api.post("/api/v1/posts", {"title": "Hello", "body": "World"}, token=tenant.candidate_tokens[0]).json()
    assert (
        api.patch(f"/api/v1/posts/{post['id']}", {"title": "Edited"}, token=tenant.candidate_tokens[1]).status_code
        == 403
    )
    assert api.patch(f"/api/v1/posts/{post['id']}", {"title": "By staff"}, token=tenant.staff_token).status_code == 200
    assert api.patch(f"/api/v1/posts/{post['id']}", {"title": "x"}, token=other_tenant.staff_token).status_code == 404
    comment = api.post(f"/api/v1/posts/{post['id']}/comments", {"body": "nice"}, token=tenant.candidate_tokens[1])
    assert comment.status_code == 201
    assert (
        api.post(f"/api/v1/posts/{post['id']}/comments", {"body": "x"}, token=other_tenant.staff_token).status_code
        == 404
    )
    assert api.delete(f"/api/v1/comments/{comment.json()['id']}", token=tenant.candidate_tokens[0]).status_code == 403
    assert api.delete(f"/api/v1/comments/{comment.json()['id']}", token=tenant.candidate_tokens[1]).status_code == 204
    assert Comment.objects.get(pk=comment.json()["id"]).deleted_at is not None
    assert api.delete(f"/api/v1/posts/{post['id']}", token=tenant.candidate_tokens[0]).status_code == 204
    assert api.patch(f"/api/v1/posts/{post['id']}", {"title": "gone"}, token=tenant.staff_token).status_code == 404


def test_staff_create_users_only_in_their_own_organisation(api, tenant, unique):
    response = api.post(
        "/api/v1/users", {"username": f"u-{unique}", "password": PASSWORD, "role": "staff"}, token=tenant.staff_token
    )
    assert response.status_code == 201
    assert User.objects.get(username=f"u-{unique}").organisation_id == tenant.organisation.pk
    assert (
        api.post(
            "/api/v1/users",
            {"username": f"v-{unique}", "password": PASSWORD, "role": "candidate"},
            token=tenant.candidate_tokens[0],
        ).status_code
        == 403
    )
    dup = api.post(
        "/api/v1/users", {"username": f"u-{unique}", "password": PASSWORD, "role": "staff"}, token=tenant.staff_token
    )
    assert dup.status_code == 409 and "username" in dup.json()["errors"]
    short = api.post(
        "/api/v1/users", {"username": f"w-{unique}", "password": "short", "role": "staff"}, token=tenant.staff_token
    )
    assert short.status_code == 400 and "password" in short.json()["errors"]


def test_cut_off_change_records_its_row_changes(api, tenant):
    assessment_id = _published(api, tenant)
    response = api.patch(f"/api/v1/assessments/{assessment_id}", {"cut_off": "70"}, token=tenant.staff_token)
    assert response.status_code == 200 and response.json()["cut_off"] == "70.00"
    ops = list(row_changes(Assessment, assessment_id).order_by("id").values_list("payload__op", flat=True))
    assert ops == ["insert", "update"]
    assert Assessment.objects.get(pk=assessment_id).version == 2, "the trigger bumped the version once"


def test_session_login_requires_csrf_on_writes(tenant):
    browser = Client(enforce_csrf_checks=True)
    login = browser.post(
        "/api/v1/auth/login",
        data=json.dumps({"username": tenant.staff.username, "password": PASSWORD}),
        content_type="application/json",
    )
    assert login.status_code == 200
    csrf = login.json()["csrf_token"]
    without = browser.post(
        "/api/v1/posts", data=json.dumps({"title": "t", "body": "b"}), content_type="application/json"
    )
    assert without.status_code == 403 and "CSRF" in without.json()["errors"]["detail"][0]
    with_token = browser.post(
        "/api/v1/posts",
        data=json.dumps({"title": "t", "body": "b"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert with_token.status_code == 201
