"""`highlight=true`: per row, the fragments q matched, with the user's text HTML-escaped and our
<em> marks the only markup; q's limits apply; bad values are a 400 naming `highlight`."""

from __future__ import annotations

import html
from decimal import Decimal

import pytest

from read_indexer.projection.documents import project_and_index
from search_api.query_builder import HIGHLIGHT_FRAGMENT_SIZE, HIGHLIGHT_FRAGMENTS
from tests.helpers import make_tenant
from tests.search_api.conftest import fresh_token, refresh_indexes, unique_word
from write_service.assessments.services import assessment_create
from write_service.discussions.services import post_create

ASSESSMENTS, POSTS = "/search/v1/assessments", "/search/v1/posts"
SCRIPT = "<script>alert('x')</script> & \"Graphs\""


@pytest.fixture(scope="module")
def corpus(search):
    tenant = make_tenant(candidates=0)
    tag = unique_word()
    filler = " ".join(["nothing to see here"] * 40)

    def assessment(title, description):
        return assessment_create(
            actor=tenant.staff,
            title=title,
            description=description,
            status="published",
            cut_off=Decimal(1),
            max_score=Decimal(10),
            duration_minutes=5,
        ).pk

    ids = {
        "script": assessment(f"{SCRIPT} {tag}", "no match in here"),
        "long": assessment(f"Long {tag}", f"{filler} the graph part {filler} another graphs bit {filler}"),
    }
    post = post_create(actor=tenant.staff, title=f"Question {tag}", body=f"{filler} <b>graphing</b> {filler}").pk
    project_and_index("assessments", list(ids.values()))
    project_and_index("posts", [post])
    refresh_indexes()
    return {"token": fresh_token(tenant.staff), "tag": tag, "ids": ids, "post": post}


def _rows(search, corpus, path=ASSESSMENTS, **params):
    return {row["id"]: row for row in search.ok(path, corpus["token"], params)["results"]}


def _unmarked(fragment: str) -> str:
    return html.unescape(fragment.replace("<em>", "").replace("</em>", ""))


def test_user_markup_is_escaped_and_only_matches_are_marked(search, corpus):
    rows = _rows(search, corpus, q=f"graph {corpus['tag']}", highlight="true")
    row = rows[corpus["ids"]["script"]]
    (fragment,) = row["highlights"]["title"]
    assert "<script" not in fragment and "&lt;script&gt;" in fragment
    assert fragment.replace("<em>", "").replace("</em>", "").count("<") == 0  # no markup but ours
    assert "<em>Graphs</em>" in fragment and f"<em>{corpus['tag']}</em>" in fragment  # the stem, the tag
    assert _unmarked(fragment) == row["title"]  # the whole title, escaped, nothing lost
    assert "description" not in row["highlights"]  # a field q did not match is left out


def test_long_text_gives_bounded_fragments_around_each_match(search, corpus):
    rows = _rows(search, corpus, q=f"graph {corpus['tag']}", highlight="true")
    fragments = rows[corpus["ids"]["long"]]["highlights"]["description"]
    assert 1 <= len(fragments) <= HIGHLIGHT_FRAGMENTS
    assert all("<em>graph" in f and len(_unmarked(f)) <= HIGHLIGHT_FRAGMENT_SIZE + 40 for f in fragments)
    post = _rows(search, corpus, POSTS, q=f"graphs {corpus['tag']}", highlight="true")[corpus["post"]]
    assert set(post["highlights"]) == {"title", "body"}
    assert any("&lt;b&gt;<em>graphing</em>" in f for f in post["highlights"]["body"]), post  # its stem: graph
    assert "body" not in post  # the row itself is unchanged: fragments only


def test_typos_are_highlighted_and_rows_without_highlight_have_none(search, corpus):
    rows = _rows(search, corpus, q=f"grpah {corpus['tag']}", highlight="true")
    assert "<em>Graphs</em>" in rows[corpus["ids"]["script"]]["highlights"]["title"][0]
    for params in ({"q": corpus["tag"]}, {"q": corpus["tag"], "highlight": "false"}):
        assert all("highlights" not in row for row in _rows(search, corpus, **params).values())


def test_highlights_follow_the_cursor(search, corpus):
    pages = list(search.walk(ASSESSMENTS, corpus["token"], {"q": corpus["tag"], "highlight": "true", "page_size": "1"}))
    # Both rows, one per page, each with its fragments. How many pages is not part of the contract:
    # a relevance walk follows the live index (docs/SEARCH_API.md), and a merge or a document
    # indexed anywhere between two pages moves the scores, so a row can cross its own cursor.
    assert all(len(page["results"]) == 1 for page in pages)
    assert {row["id"] for page in pages for row in page["results"]} == set(corpus["ids"].values())
    assert all(row["highlights"]["title"] for page in pages for row in page["results"])


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        (ASSESSMENTS, {"q": "graph", "highlight": "yes"}, "Enter true or false."),
        (ASSESSMENTS, {"q": "graph", "highlight": ""}, "Must not be empty."),
        (POSTS, {"highlight": "true"}, "Needs a full-text query (q=)"),
        ("/search/v1/attempts", {"highlight": "true"}, "Unknown parameter"),
    ],
)
def test_bad_highlight_values_are_a_400_naming_it(search, corpus, path, params, message):
    response = search.get(path, corpus["token"], params)
    assert response.status_code == 400, response.text
    assert message in response.json()["errors"]["highlight"][0]


def test_highlight_keeps_qs_limits(search, corpus):
    response = search.get(ASSESSMENTS, corpus["token"], {"q": "<script>" * 30, "highlight": "true"})
    assert response.status_code == 400 and "q" in response.json()["errors"]
    response = search.get(ASSESSMENTS, corpus["token"], {"q": "graph", "highlight": "true", "page_size": "101"})
    assert response.status_code == 400 and set(response.json()["errors"]) == {"page_size"}
    response = search.get(ASSESSMENTS, corpus["token"], [("q", "graph"), ("highlight", "true"), ("highlight", "true")])
    assert response.status_code == 400 and "highlight" in response.json()["errors"]
