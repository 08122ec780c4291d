"""Title suggestions on the real stack: data through the write API and the real pipeline (like
test_visibility.py), read through GET assessments/suggest and posts/suggest.

World: every title carries a word made for this module (W + a suffix), so the published rows of
other tests' organisations (which suggestions span, like the list) never match. Organisation A has
three published assessments whose W-word starts with "gra" (in the middle of the title, at its
start, at its end), one whose W-word does not, a draft, and a published one it then deletes;
organisation B a published one and a draft. A has eleven posts, B one.
"""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import ApiClient, make_tenant, ok_json, wait_until
from tests.search_api.conftest import es_source, fresh_token, refresh_indexes

W = f"zq{uuid.uuid4().hex[:8]}"
ASSESSMENT = {"cut_off": "50", "max_score": "100", "duration_minutes": 30}
ASSESSMENTS = "/search/v1/assessments/suggest"
POSTS = "/search/v1/posts/suggest"
A_POSTS = 11


@pytest.fixture(scope="module")
def world(search, pipeline):
    api = ApiClient()
    a, b = make_tenant(candidates=1), make_tenant(candidates=1)
    titles: dict[str, tuple[int, str]] = {}  # name -> (id, title)

    def assessment(tenant, name, title, status="published"):
        body = {**ASSESSMENT, "title": title, "status": status}
        titles[name] = (ok_json(api.post("/api/v1/assessments", body, token=tenant.staff_token))["id"], title)

    assessment(a, "middle", f"Applied {W}graphs primer")
    assessment(a, "start", f"{W}grammar basics")
    assessment(a, "end", f"Trees and {W}gravity")
    assessment(a, "other_word", f"Applied {W}trees")
    assessment(a, "draft_a", f"Draft {W}graph notes", status="draft")
    assessment(b, "published_b", f"Other {W}graph course")
    assessment(b, "draft_b", f"Secret {W}graph plan", status="draft")
    assessment(a, "deleted", f"Deleted {W}graph")
    assert api.delete(f"/api/v1/assessments/{titles['deleted'][0]}", token=a.staff_token).status_code == 204
    posts = [
        (
            ok_json(api.post("/api/v1/posts", {"title": f"Post {i} on {W}graphs", "body": "b"}, token=a.staff_token))[
                "id"
            ],
            f"Post {i} on {W}graphs",
        )
        for i in range(A_POSTS)
    ]
    post_b = ok_json(api.post("/api/v1/posts", {"title": f"B post on {W}graphs", "body": "b"}, token=b.staff_token))[
        "id"
    ]

    def indexed():
        docs = {name: es_source("assessments", i) for name, (i, _) in titles.items()}
        post_docs = [es_source("posts", i) for i, _ in posts] + [es_source("posts", post_b)]
        return all(docs.values()) and all(post_docs) and docs["deleted"]["deleted"] is True

    wait_until(indexed, timeout=60, message="the suggestion world in the index")
    refresh_indexes()
    tokens = {
        "staff_a": fresh_token(a.staff),
        "candidate_a": fresh_token(a.candidates[0]),
        "staff_b": fresh_token(b.staff),
        "candidate_b": fresh_token(b.candidates[0]),
    }
    return {"titles": titles, "posts": posts, "post_b": post_b, "tokens": tokens}


def _rows(world, *names):
    return [{"id": world["titles"][n][0], "title": world["titles"][n][1]} for n in names]


GRA = ("middle", "start", "end")  # A's published rows whose W-word starts with "gra", in id order
EXPECTED_GRA = {  # ids ascending: a one-word prefix scores every match the same
    "staff_a": (*GRA, "draft_a", "published_b"),
    "candidate_a": (*GRA, "published_b"),
    "staff_b": (*GRA, "published_b", "draft_b"),
    "candidate_b": (*GRA, "published_b"),
}


@pytest.mark.parametrize("principal", list(EXPECTED_GRA))
def test_prefix_matches_a_word_anywhere_with_the_lists_visibility(search, world, principal):
    """A draft shows only to its own organisation's staff; the deleted row and the other word never."""
    response = search.ok(ASSESSMENTS, world["tokens"][principal], {"prefix": f"{W}gra"})
    assert response == {"results": _rows(world, *EXPECTED_GRA[principal])}


def test_case_insensitive_and_operators_are_plain_text(search, world):
    token = world["tokens"]["candidate_a"]
    expected = search.ok(ASSESSMENTS, token, {"prefix": f"{W}gra"})
    assert expected["results"]
    for prefix in (f"{W.upper()}GRA", f"  {W}Gra", f'"{W}gra', f"({W}gra"):
        assert search.ok(ASSESSMENTS, token, {"prefix": prefix}) == expected, prefix
    for prefix in ("title:* OR 1=1", "/gr.*/", "gr~2", "\\gr", "\x00gr", "ünï ✓"):  # query syntax elsewhere: words here
        assert search.get(POSTS, token, {"prefix": prefix}).status_code == 200, prefix


def test_a_space_or_punctuation_after_the_last_word_completes_it(search, world):
    token = world["tokens"]["candidate_a"]
    assert search.ok(ASSESSMENTS, token, {"prefix": f"{W}graph"}) == {"results": _rows(world, "middle", "published_b")}
    for prefix in (f"{W}graph ", f"{W}graph*", f"{W}graph!"):  # the word graph, no longer graphs
        assert search.ok(ASSESSMENTS, token, {"prefix": prefix}) == {"results": _rows(world, "published_b")}, prefix


def test_every_word_but_the_last_must_match_whole_in_any_order(search, world):
    token = world["tokens"]["staff_a"]
    assert search.ok(ASSESSMENTS, token, {"prefix": f"applied {W}gr"}) == {"results": _rows(world, "middle")}
    assert search.ok(ASSESSMENTS, token, {"prefix": f"{W}graphs prim"}) == {"results": _rows(world, "middle")}
    assert search.ok(ASSESSMENTS, token, {"prefix": f"appl {W}gr"}) == {"results": []}  # "appl" is not a word
    assert search.ok(ASSESSMENTS, token, {"prefix": f"{W}grz"}) == {"results": []}


def test_posts_at_most_limit_of_the_callers_organisation(search, world):
    a_rows = [{"id": i, "title": t} for i, t in world["posts"]]
    staff_a = world["tokens"]["staff_a"]
    assert search.ok(POSTS, staff_a, {"prefix": f"{W}gr"}) == {"results": a_rows[:10]}  # the default and maximum
    assert search.ok(POSTS, world["tokens"]["candidate_a"], {"prefix": f"{W}gr", "limit": "3"}) == {
        "results": a_rows[:3]
    }
    assert search.ok(POSTS, world["tokens"]["staff_b"], {"prefix": f"{W}gr"}) == {
        "results": [{"id": world["post_b"], "title": f"B post on {W}graphs"}]
    }
    assert search.ok(ASSESSMENTS, staff_a, {"prefix": f"{W}gra", "limit": "2"}) == {
        "results": _rows(world, "middle", "start")
    }


@pytest.mark.parametrize("path", [ASSESSMENTS, POSTS])
@pytest.mark.parametrize(
    ("query", "param", "message"),
    [
        ({"prefix": "a"}, "prefix", "at least 2 letters or digits"),
        ({"prefix": "%%%"}, "prefix", "at least 2 letters or digits"),
        ("prefix=%%%", "prefix", "at least 2 letters or digits"),  # not even valid percent-encoding
        ({"prefix": "x" * 3000}, "prefix", "At most 200 characters"),
        ({}, "prefix", "Required."),
        ({"limit": "3"}, "prefix", "Required."),
        ({"prefix": "gra", "limit": "11"}, "limit", "between 1 and 10"),
        ({"prefix": "gra", "colour": "red"}, "colour", "Unknown parameter. Allowed: prefix, limit."),
        ({"prefix": "gra", "page_size": "5"}, "page_size", "Unknown parameter. Allowed: prefix, limit."),
    ],
    ids=lambda value: repr(value)[:24],
)
def test_bad_input_is_a_400_naming_the_parameter(search, world, path, query, param, message):
    token = world["tokens"]["staff_a"]
    if isinstance(query, str):
        response = search.get(f"{path}?{query}", token)
    else:
        response = search.get(path, token, query)
    assert response.status_code == 400, response.text
    assert list(response.json()["errors"]) == [param]
    assert any(message in m for m in response.json()["errors"][param]), response.json()
    assert "RateLimit-Remaining" in response.headers  # a 400 still counts against the budget


@pytest.mark.parametrize("path", [ASSESSMENTS, POSTS])
def test_ten_kilobytes_never_reach_the_app(search, world, path):
    """Request lines over 4094 bytes get the documented 414 before any parsing or rate limit."""
    response = search.get(path, world["tokens"]["staff_a"], {"prefix": "graph " * 1700})
    assert response.status_code == 414
    assert response.json() == {"errors": {"detail": ["Request line longer than 4094 bytes."]}}
    assert "RateLimit-Remaining" not in response.headers


@pytest.mark.parametrize("path", [ASSESSMENTS, POSTS])
def test_authenticated_and_get_only(search, world, path):
    assert search.get(path, params={"prefix": f"{W}gra"}).status_code == 401
    response = search.session.post(
        f"{search.base_url}{path}?prefix={W}gra",
        timeout=10,
        headers={"Authorization": f"Token {world['tokens']['staff_a']}"},
    )
    assert response.status_code == 405 and response.headers["Allow"] == "GET"
