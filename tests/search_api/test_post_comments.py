"""GET /search/v1/posts/{id}/comments on the real stack: comments written through the write API
reach their own index, list oldest first with cursors, only for members of the post's
organisation while the post is live; a deleted comment leaves, an author's rename arrives."""

from __future__ import annotations

import pytest

from tests.helpers import ApiClient, make_tenant, ok_json, wait_until
from tests.search_api.conftest import fresh_token
from write_service.accounts.models import User


def _path(post_id: int) -> str:
    return f"/search/v1/posts/{post_id}/comments"


def _count(search, post_id: int, token: str) -> int | None:
    """Comments listed, or None while the post itself is not searchable yet (a 404)."""
    response = search.get(_path(post_id), token)
    return response.json()["count"] if response.status_code == 200 else None


@pytest.fixture(scope="module")
def thread(search, pipeline):
    """A post with five comments by two authors, all searchable."""
    tenant, api = make_tenant(candidates=1), ApiClient()
    post = ok_json(api.post("/api/v1/posts", {"title": "A thread", "body": "about graphs"}, token=tenant.staff_token))
    comments = []
    for i in range(5):
        token = tenant.staff_token if i % 2 == 0 else tenant.candidate_tokens[0]
        comments.append(
            ok_json(
                api.post(
                    f"/api/v1/posts/{post['id']}/comments",
                    {"body": f"comment number {i} on shortest paths"},
                    token=token,
                )
            )
        )
    read_token = fresh_token(tenant.staff)
    wait_until(lambda: _count(search, post["id"], read_token) == 5, timeout=30, message="comments indexed")
    return {"tenant": tenant, "api": api, "post": post, "comments": comments, "token": read_token}


def test_comments_list_oldest_first_with_their_shape(search, thread):
    page = search.ok(_path(thread["post"]["id"]), thread["token"])
    assert [row["id"] for row in page["results"]] == [c["id"] for c in thread["comments"]]
    first = page["results"][0]
    assert first == {
        "id": thread["comments"][0]["id"],
        "post": thread["post"]["id"],
        "author": {"id": thread["tenant"].staff.pk, "display_name": thread["tenant"].staff.public_name},
        "body": "comment number 0 on shortest paths",
        "created_at": first["created_at"],
    }
    newest_first = search.ok(_path(thread["post"]["id"]), thread["token"], {"ordering": "-created_at"})
    assert [row["id"] for row in newest_first["results"]] == [c["id"] for c in reversed(thread["comments"])]


def test_cursor_walk_visits_every_comment_once(search, thread):
    pages = list(search.walk(_path(thread["post"]["id"]), thread["token"], {"page_size": "2"}))
    assert [len(p["results"]) for p in pages] == [2, 2, 1]
    assert [r["id"] for p in pages for r in p["results"]] == [c["id"] for c in thread["comments"]]
    # A cursor is bound to its post: another post's list refuses it.
    other = ok_json(
        thread["api"].post("/api/v1/posts", {"title": "other", "body": "b"}, token=thread["tenant"].staff_token)
    )
    wait_until(lambda: _count(search, other["id"], thread["token"]) == 0, timeout=30, message="post indexed")
    cursor = pages[0]["next"].split("cursor=")[1]
    response = search.get(_path(other["id"]), thread["token"], {"page_size": "2", "cursor": cursor})
    assert response.status_code == 400 and "cursor" in response.json()["errors"]


def test_filters_and_q(search, thread):
    candidate = thread["tenant"].candidates[0]
    by_candidate = search.ok(_path(thread["post"]["id"]), thread["token"], {"author": str(candidate.pk)})
    assert [r["id"] for r in by_candidate["results"]] == [thread["comments"][1]["id"], thread["comments"][3]["id"]]
    since = search.ok(
        _path(thread["post"]["id"]), thread["token"], {"created_at__gte": thread["comments"][3]["created_at"]}
    )
    assert [r["id"] for r in since["results"]] == [c["id"] for c in thread["comments"][3:]]
    # Stemmed English ("path" finds "paths"); every word must match.
    found = search.ok(_path(thread["post"]["id"]), thread["token"], {"q": "path 2", "highlight": "true"})
    assert [r["id"] for r in found["results"]] == [thread["comments"][2]["id"]]
    assert found["results"][0]["highlights"]["body"]


def test_other_organisation_and_missing_post_are_404(search, thread):
    outsider = make_tenant(candidates=0)
    assert search.get(_path(thread["post"]["id"]), fresh_token(outsider.staff)).status_code == 404
    assert search.get(_path(2**62), thread["token"]).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ordering": "comments_count"}, "ordering"),
        ({"author": "abc"}, "author"),
        ({"created_at__gte": "soon"}, "created_at__gte"),
        ({"tags": "python"}, "tags"),
        ({"page_size": "0"}, "page_size"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(search, thread, params, field):
    response = search.get(_path(thread["post"]["id"]), thread["token"], params)
    assert response.status_code == 400, response.text
    assert field in response.json()["errors"]


def test_deleted_comment_disappears_and_renamed_author_shows(search, pipeline):
    tenant, api = make_tenant(candidates=1), ApiClient()
    candidate, candidate_token = tenant.candidates[0], tenant.candidate_tokens[0]
    post = ok_json(api.post("/api/v1/posts", {"title": "changes", "body": "b"}, token=tenant.staff_token))
    kept = ok_json(api.post(f"/api/v1/posts/{post['id']}/comments", {"body": "kept"}, token=candidate_token))
    gone = ok_json(api.post(f"/api/v1/posts/{post['id']}/comments", {"body": "gone"}, token=candidate_token))
    token = fresh_token(tenant.staff)

    def ids() -> list[int]:
        response = search.get(_path(post["id"]), token)
        return [r["id"] for r in response.json()["results"]] if response.status_code == 200 else []

    wait_until(lambda: ids() == [kept["id"], gone["id"]], timeout=30, message="both comments indexed")
    assert api.delete(f"/api/v1/comments/{gone['id']}", token=candidate_token).status_code == 204
    wait_until(lambda: ids() == [kept["id"]], timeout=30, message="deleted comment gone")
    # The post's counter follows (the comment is still counted through its post row).
    wait_until(
        lambda: search.ok("/search/v1/posts", token, {"id": str(post["id"])})["results"][0]["comments_count"] == 1,
        timeout=30,
        message="comments_count back to 1",
    )

    User.objects.filter(pk=candidate.pk).update(display_name="Renamed Commenter")  # fans out to their comments
    wait_until(
        lambda: search.ok(_path(post["id"]), token)["results"][0]["author"]["display_name"] == "Renamed Commenter",
        timeout=30,
        message="rename reached the comment",
    )


def test_deleted_post_makes_its_comments_a_404(search, pipeline):
    tenant, api = make_tenant(candidates=0), ApiClient()
    post = ok_json(api.post("/api/v1/posts", {"title": "to delete", "body": "b"}, token=tenant.staff_token))
    ok_json(api.post(f"/api/v1/posts/{post['id']}/comments", {"body": "orphaned soon"}, token=tenant.staff_token))
    token = fresh_token(tenant.staff)
    wait_until(lambda: _count(search, post["id"], token) == 1, timeout=30, message="comment indexed")
    assert api.delete(f"/api/v1/posts/{post['id']}", token=tenant.staff_token).status_code == 204
    wait_until(lambda: search.get(_path(post["id"]), token).status_code == 404, timeout=30, message="post deleted")
