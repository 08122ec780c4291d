"""The write API's JSON endpoints, ready to send to in-process (hostile-input and fuzz tests)."""

from __future__ import annotations

from django.test import Client

from tests.helpers import make_tenant

ENDPOINT_NAMES = (
    "token",
    "login",
    "users",
    "assessment-create",
    "assessment-edit",
    "attempt-start",
    "attempt-submit",
    "post-create",
    "post-edit",
    "comment-create",
)


def json_write_endpoints() -> dict:
    """Every JSON write endpoint of one fresh tenant: {"client", "targets": name -> (method, path,
    auth headers, a valid body)}; the rows the paths name are created here."""
    tenant = make_tenant(candidates=1)
    client = Client()
    staff = {"HTTP_AUTHORIZATION": f"Token {tenant.staff_token}"}
    candidate = {"HTTP_AUTHORIZATION": f"Token {tenant.candidate_tokens[0]}"}

    def post(path, body, headers):
        response = client.post(path, data=body, content_type="application/json", **headers)
        assert response.status_code == 201, response.content
        return response.json()["id"]

    assessment = post(
        "/api/v1/assessments",
        {"title": "endpoints", "cut_off": "5", "max_score": "10", "duration_minutes": 5, "status": "published"},
        staff,
    )
    attempt = post(f"/api/v1/assessments/{assessment}/attempts", {}, candidate)
    post_id = post("/api/v1/posts", {"title": "endpoints", "body": "b"}, staff)
    # Every JSON write endpoint: (method, path, auth headers, a valid body to spoil one field of)
    targets = {
        "token": ("post", "/api/v1/auth/token", {}, {"username": tenant.staff.username, "password": "x"}),
        "login": ("post", "/api/v1/auth/login", {}, {"username": tenant.staff.username, "password": "x"}),
        "users": (
            "post",
            "/api/v1/users",
            staff,
            {
                "username": "hostile-user",
                "password": "long-enough-1",
                "role": "candidate",
                "display_name": "H",
                "email": "h@example.com",
            },
        ),
        "assessment-create": (
            "post",
            "/api/v1/assessments",
            staff,
            {"title": "t", "description": "d", "cut_off": "5", "max_score": "10", "duration_minutes": 5, "tags": ["a"]},
        ),
        "assessment-edit": ("patch", f"/api/v1/assessments/{assessment}", staff, {"title": "t", "duration_minutes": 5}),
        "attempt-start": ("post", f"/api/v1/assessments/{assessment}/attempts", candidate, {}),
        "attempt-submit": ("post", f"/api/v1/attempts/{attempt}/submit", candidate, {"score": "5"}),
        "post-create": (
            "post",
            "/api/v1/posts",
            staff,
            {"title": "t", "body": "b", "tags": ["a"], "assessment": assessment},
        ),
        "post-edit": ("patch", f"/api/v1/posts/{post_id}", staff, {"title": "t", "body": "b"}),
        "comment-create": ("post", f"/api/v1/posts/{post_id}/comments", staff, {"body": "b"}),
    }
    assert tuple(targets) == ENDPOINT_NAMES
    return {"client": client, "targets": targets}
