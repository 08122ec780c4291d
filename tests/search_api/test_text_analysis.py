"""What `q` finds through the English analysis (stack/elasticsearch/CqrsAnalysisPlugin.java on the
stack's node, analysis-common on the official image): stems, case, accents, typos within
AUTO:5,8, exact words ranked above stemmed ones, and a query built to be slow answering fast."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from read_indexer.projection.documents import project_and_index
from search_api.filtering import MAX_Q_LENGTH
from search_api.query_builder import MAX_FUZZY_WORDS
from tests.helpers import make_tenant
from tests.search_api.conftest import fresh_token, refresh_indexes, unique_word
from write_service.assessments.services import assessment_create
from write_service.discussions.services import post_create

ASSESSMENTS, POSTS = "/search/v1/assessments", "/search/v1/posts"


@pytest.fixture(scope="module")
def corpus(search):
    tenant = make_tenant(candidates=0)
    tag = unique_word()
    long_words = [unique_word() for _ in range(13)]  # a title of at most 200 characters

    def assessment(title, description="plain"):
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
        "plural": assessment(f"Graphs {tag}"),
        "singular": assessment(f"Graph {tag}"),
        "python": assessment(f"Python {tag}"),
        "letter": assessment(f"Set k {tag}"),
        "accent": assessment(f"Café {tag}"),
        "assessment": assessment(f"Assessment {tag}"),
        "long": assessment(" ".join(long_words), f"and {tag}"),
    }
    posts = {"body": post_create(actor=tenant.staff, title=f"Question {tag}", body="Running the graphs twice").pk}
    project_and_index("assessments", list(ids.values()))
    project_and_index("posts", list(posts.values()))
    refresh_indexes()
    return {"token": fresh_token(tenant.staff), "tag": tag, "ids": ids, "posts": posts, "long_words": long_words}


def _ids(search, corpus, q, path=ASSESSMENTS, **params):
    page = search.ok(path, corpus["token"], {"q": q, **params})
    return [row["id"] for row in page["results"]]


def test_a_word_finds_its_stems_whatever_the_case(search, corpus):
    ids, tag = corpus["ids"], corpus["tag"]
    for q in (f"graph {tag}", f"Graph {tag}", f"GRAPHS {tag}", f"graph's {tag}"):
        assert set(_ids(search, corpus, q)) == {ids["plural"], ids["singular"]}, q
    assert _ids(search, corpus, f"twice runs {tag}", POSTS) == [corpus["posts"]["body"]]  # body: running


def test_an_exact_word_ranks_above_its_stem(search, corpus):
    ids, tag = corpus["ids"], corpus["tag"]
    assert _ids(search, corpus, f"graph {tag}") == [ids["singular"], ids["plural"]]
    assert _ids(search, corpus, f"graphs {tag}") == [ids["plural"], ids["singular"]]


def test_accents_are_folded(search, corpus):
    ids, tag = corpus["ids"], corpus["tag"]
    assert _ids(search, corpus, f"cafe {tag}") == [ids["accent"]]
    assert _ids(search, corpus, f"CAFÉ {tag}") == [ids["accent"]]


def test_typos_within_auto_5_8(search, corpus):
    ids, tag = corpus["ids"], corpus["tag"]
    assert set(_ids(search, corpus, f"grpah {tag}")) == {ids["plural"], ids["singular"]}  # a transposition
    assert _ids(search, corpus, f"pyhton {tag}") == [ids["python"]]  # 6 letters: one edit
    assert _ids(search, corpus, f"pyhtno {tag}") == []  # 6 letters: not two
    assert _ids(search, corpus, f"asessmnet {tag}") == [ids["assessment"]]  # 9 letters: two edits
    assert _ids(search, corpus, f"qython {tag}") == []  # never in the first letter
    assert _ids(search, corpus, f"Grpah {tag}") != []  # typo and case at once


def test_short_words_are_not_fuzzed(search, corpus):
    ids, tag = corpus["ids"], corpus["tag"]
    assert _ids(search, corpus, f"k {tag}") == [ids["letter"]]
    assert _ids(search, corpus, f"j {tag}") == []  # one letter: no edit
    assert _ids(search, corpus, f"sat {tag}") == []  # four letters or fewer: no edit either


def test_operators_still_work_with_stems(search, corpus):
    ids, tag = corpus["ids"], corpus["tag"]
    assert ids["plural"] not in _ids(search, corpus, f"{tag} -graph")
    assert ids["singular"] not in _ids(search, corpus, f"{tag} -graph")
    assert set(_ids(search, corpus, f"{tag} + (python | cafe)")) == {ids["python"], ids["accent"]}
    assert _ids(search, corpus, f'"graphs {tag}"') == [ids["plural"], ids["singular"]]  # a phrase of stems


def test_a_query_built_to_be_slow_answers_fast_and_right(search, corpus):
    """q's 200 characters of long words, as many misspelt (two edits each) as may be: the most
    fuzzy expansion a q can ask for, bounded by max_expansions, the unfuzzed first letter and
    MAX_FUZZY_WORDS."""
    words = [
        w[0] + w[2] + w[1] + w[3:-1] if position < MAX_FUZZY_WORDS else w  # a transposition, a deletion
        for position, w in enumerate(corpus["long_words"])
    ]
    q = " ".join(words)
    assert 160 < len(q) <= MAX_Q_LENGTH
    started = time.monotonic()
    assert _ids(search, corpus, q) == [corpus["ids"]["long"]]
    assert time.monotonic() - started < 2.0
    # As many distinct words as q can hold, none matching: an empty answer, as fast.
    many = " ".join(unique_word()[:9] for _ in range(MAX_Q_LENGTH // 10))
    started = time.monotonic()
    page = search.ok(ASSESSMENTS, corpus["token"], {"q": many, "highlight": "true", "page_size": "100"})
    assert page["results"] == [] and page["count"] == 0
    assert time.monotonic() - started < 2.0
