"""Full text: every word must match (title or body/description), title matches rank first,
the safe operators work, and visibility still applies."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from read_indexer.projection.documents import project_and_index
from tests.helpers import make_tenant
from tests.search_api.conftest import fresh_token, refresh_indexes
from write_service.assessments.services import assessment_create
from write_service.discussions.services import post_create


def _word() -> str:
    return "zq" + uuid.uuid4().hex[:10].replace("0", "a")  # unique: scores ignore other tests' data


@pytest.fixture(scope="module")
def corpus(search):
    tenant, other = make_tenant(candidates=0), make_tenant(candidates=0)
    rare, common = _word(), _word()

    def assessment(owner, title, description, status="published"):
        return assessment_create(
            actor=owner.staff,
            title=title,
            description=description,
            status=status,
            cut_off=Decimal(1),
            max_score=Decimal(10),
            duration_minutes=5,
        ).pk

    ids = {
        "title": assessment(tenant, f"{rare} {common}", "plain words here"),
        "description": assessment(tenant, "Plain title", f"about {rare} and {common} things"),
        "only_common": assessment(tenant, f"{common} only", "nothing else"),
        "other_draft": assessment(other, f"{rare} {common}", "hidden", status="draft"),
    }
    posts = {
        "title": post_create(actor=tenant.staff, title=f"{rare} question", body="short").pk,
        "body": post_create(actor=tenant.staff, title="Question", body=f"the {rare} part").pk,
        "other_org": post_create(actor=other.staff, title=f"{rare}", body="x").pk,
    }
    project_and_index("assessments", list(ids.values()))
    project_and_index("posts", list(posts.values()))
    refresh_indexes()
    return {"token": fresh_token(tenant.staff), "rare": rare, "common": common, "ids": ids, "posts": posts}


def _ids(search, corpus, path, q, **params):
    page = search.ok(path, corpus["token"], {"q": q, **params})
    return [row["id"] for row in page["results"]]


def test_title_match_ranks_above_description_match(search, corpus):
    ids = corpus["ids"]
    assert _ids(search, corpus, "/search/v1/assessments", corpus["rare"]) == [ids["title"], ids["description"]]
    posts = corpus["posts"]
    assert _ids(search, corpus, "/search/v1/posts", corpus["rare"]) == [posts["title"], posts["body"]]


def test_every_word_must_match_case_insensitively(search, corpus):
    ids = corpus["ids"]
    both = f"{corpus['rare'].upper()} {corpus['common']}"
    assert set(_ids(search, corpus, "/search/v1/assessments", both)) == {ids["title"], ids["description"]}
    assert _ids(search, corpus, "/search/v1/assessments", f"{corpus['rare']} absentword") == []


def test_safe_operators(search, corpus):
    ids, rare, common = corpus["ids"], corpus["rare"], corpus["common"]
    assert _ids(search, corpus, "/search/v1/assessments", f"{common} -{rare}") == [ids["only_common"]]
    assert _ids(search, corpus, "/search/v1/assessments", f'"{rare} {common}"') == [ids["title"]]
    assert set(_ids(search, corpus, "/search/v1/assessments", f"{rare} | {common}")) == {
        ids["title"],
        ids["description"],
        ids["only_common"],
    }


def test_text_search_with_explicit_ordering(search, corpus):
    ids, rare, common = corpus["ids"], corpus["rare"], corpus["common"]
    titles = {ids["title"]: f"{rare} {common}", ids["description"]: "Plain title", ids["only_common"]: f"{common} only"}
    for ordering, reverse in (("title", False), ("-title", True)):
        expected = sorted(titles, key=titles.get, reverse=reverse)
        assert _ids(search, corpus, "/search/v1/assessments", common, ordering=ordering) == expected
