"""A post's last_activity_at: the time of its latest live comment, or its creation.
Deleting the latest comment used to leave the deleted comment's time in the row and the document
(the counter path only ever took GREATEST with new comments)."""

from __future__ import annotations

import time
from datetime import datetime

from tests.helpers import ApiClient, make_tenant, wait_until
from tests.search_api.conftest import fresh_token
from write_service.discussions.models import Post


def _created(response, expected=201) -> dict:
    assert response.status_code == expected, response.content
    return response.json()


def test_deleting_the_latest_comment_gives_back_the_previous_activity(search, pipeline):
    tenant, api = make_tenant(candidates=0), ApiClient()
    token, read_token = tenant.staff_token, fresh_token(tenant.staff)
    post = _created(api.post("/api/v1/posts", {"title": "activity", "body": "b"}, token=token))
    first = _created(api.post(f"/api/v1/posts/{post['id']}/comments", {"body": "first"}, token=token))
    time.sleep(0.05)
    latest = _created(api.post(f"/api/v1/posts/{post['id']}/comments", {"body": "latest"}, token=token))

    def document_with(count: int) -> dict | None:
        rows = search.ok("/search/v1/posts", read_token, {"id": str(post["id"])})["results"]
        return rows[0] if rows and rows[0]["comments_count"] == count else None

    def check(count: int, expected_iso: str) -> None:
        doc = wait_until(lambda: document_with(count), timeout=30, message=f"document with {count} comments")
        expected = datetime.fromisoformat(expected_iso)
        assert datetime.fromisoformat(doc["last_activity_at"]) == expected, (doc, expected_iso)
        assert Post.objects.get(pk=post["id"]).last_activity_at == expected

    check(2, latest["created_at"])
    assert api.delete(f"/api/v1/comments/{latest['id']}", token=token).status_code == 204
    check(1, first["created_at"])
    assert api.delete(f"/api/v1/comments/{first['id']}", token=token).status_code == 204
    check(0, post["created_at"])
