"""The typo policy of `q` on the real search API and Elasticsearch (docs/SEARCH_API.md, "Full text"):
typos widen q only when its exact form (stems included) finds fewer rows than
SEARCH_TYPO_THRESHOLD, never in a word with a digit; rows, count and facets follow the same form.

Hypothesis draws random corpora of posts (random words, codes with digits, and misspellings of
both at one or two edits) and queries over them; text_oracle.py decides in Python what each
query must return. Each example's posts carry a tag of their own, which the requests filter on.
"""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import load_config
from shared.indexes import POSTS
from tests.search_api import text_oracle as oracle
from tests.search_api.conftest import SearchClient, unique_word
from tests.search_api.test_backend_outage import search_server_with

PATH = oracle.POSTS_PATH
EXTRA_TAGS = ("red", "blue")
EXAMPLES = oracle.EXAMPLES


@pytest.fixture(scope="module")
def tenant(search):
    return oracle.staff_with_token()


def seed(tenant, posts):
    return oracle.seed_posts(tenant["staff"], posts)


def check(search, tenant, tag, docs, q, expected, **params):
    oracle.check_posts(search, tenant["token"], tag, docs, q, expected, **params)


@st.composite
def corpora(draw):
    """Base words (some of them codes with digits), posts made of them and of their misspellings,
    and a query of one to three words: base words, misspellings, or words found nowhere."""
    rng = random.Random(uuid.uuid4().int)  # letters unrelated to every other example's (see text_oracle)
    codes = draw(st.lists(st.booleans(), min_size=2, max_size=4))
    bases = [oracle.random_word(rng, draw(st.integers(5, 10)), digits=code) for code in codes]

    # Two misspellings per base at most: the terms within two edits of a query word stay below
    # max_expansions (10 per field), which the model does not apply.
    misspelt = {base: [oracle.mutate(rng, base, 1), oracle.mutate(rng, base, 2)] for base in bases}

    def variant(base: str) -> str:
        edits = draw(st.sampled_from((0, 0, 1, 2)))
        return misspelt[base][edits - 1] if edits else base

    posts = []
    for _ in range(draw(st.integers(1, 7))):
        title = " ".join(variant(draw(st.sampled_from(bases))) for _ in range(draw(st.integers(1, 3))))
        body = " ".join(variant(draw(st.sampled_from(bases))) for _ in range(draw(st.integers(0, 2)))) or "plain"
        posts.append((title, body, tuple(draw(st.sets(st.sampled_from(EXTRA_TAGS))))))
    words = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(("base", "typo", "typo", "absent")))
        base = draw(st.sampled_from(bases))
        words.append(
            base
            if kind == "base"
            else oracle.mutate(rng, base, draw(st.integers(1, 2)))
            if kind == "typo"
            else oracle.random_word(rng, 7)
        )
    return posts, " ".join(words)


@EXAMPLES
@given(corpus=corpora())
def test_typos_widen_only_below_the_threshold_and_never_on_digits(search, tenant, corpus):
    posts, q = corpus
    tag, docs = seed(tenant, posts)
    threshold = load_config().search_typo_threshold  # the server's own: same environment
    expected = oracle.exact_first(POSTS.alias, docs, q, threshold)
    check(search, tenant, tag, docs, q, expected)


@pytest.mark.parametrize("threshold", [0, 3])
def test_another_threshold_on_a_server_of_its_own(tenant, threshold):
    """SEARCH_TYPO_THRESHOLD set: 0 never widens; 3 widens while the exact form finds 0 to 2 rows."""
    with search_server_with(SEARCH_TYPO_THRESHOLD=str(threshold)) as base:
        client = SearchClient(base)

        @settings(EXAMPLES, max_examples=8)
        @given(corpus=corpora())
        def run(corpus):
            posts, q = corpus
            tag, docs = seed(tenant, posts)
            check(client, tenant, tag, docs, q, oracle.exact_first(POSTS.alias, docs, q, threshold))

        run()
        tag, docs = seed(tenant, [("Graphs primer", "x", ()), ("Graph theory", "x", ()), ("Grapes harvest", "x", ())])
        graphs, graph, grapes = (d.id for d in docs)
        # Two exact rows: below 3, so typos widen (grapes is one edit from the stem graph).
        check(client, tenant, tag, docs, "graphs", {graphs, graph} | ({grapes} if threshold == 3 else set()))


def test_a_code_finds_only_itself_not_the_codes_within_two_edits(search, tenant):
    """The issue's case: `zq5e4d97a1` found every code within two edits."""
    code = "zq5e4d97a1"
    near = ["zq5e4d97a2", "zq5e4d97b1", "zq5e4d79a1", "zq5e4d97a"]  # one or two edits each
    tag, docs = seed(tenant, [(f"Code {c}", "plain", ()) for c in [code, *near]])
    check(search, tenant, tag, docs, code, {docs[0].id})
    # No exact match at all: a code still never widens to its neighbours.
    check(search, tenant, tag, docs, "zq5e4d97c1", set())


def test_an_exact_match_keeps_typos_out_and_none_lets_them_in(search, tenant):
    tag, docs = seed(
        tenant,
        [("Graphs primer", "plain", ()), ("Grapes harvest", "plain", ("red",)), ("Graph theory", "plain", ())],
    )
    graphs, grapes, graph = (d.id for d in docs)
    check(search, tenant, tag, docs, "graphs", {graphs, graph})  # stems are exact: no `grapes`
    check(search, tenant, tag, docs, "grpahs", {graphs, graph})  # nothing exact: typos (grapes is two edits)
    check(search, tenant, tag, docs, "grapes", {grapes})
    check(search, tenant, tag, docs, "grapez harvest", {grapes})


@pytest.mark.parametrize(
    "q",
    [
        "a" * 200,
        " ".join(["graphs"] * 28),
        "graphs " * 40,  # over 200 characters: a 400 naming q
        " ".join(unique_word()[:9] for _ in range(20)),
        "zq5e4d97a1 " * 18,
        "ƒøø βαρ 日本語 😀 " * 10,
        '"unclosed (paren | -x +y ~2 * ? \\ / : ^ [ ] { }',
        "-" * 200,
        "graph* grap~ AND OR NOT",
    ],
)
def test_hostile_q_is_bounded_and_never_a_server_error(search, tenant, q):
    for params in ({}, {"prefix": "true"}, {"facet_mode": "disjunctive", "facets": "tags,assessment", "tags": "x"}):
        response = search.get(PATH, tenant["token"], {"q": q, **params})
        assert response.status_code == (400 if len(q) > 200 else 200), (q, params, response.text[:500])
        assert response.elapsed.total_seconds() < 5
