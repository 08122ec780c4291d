"""`prefix=true` on the lists (docs/SEARCH_API.md, "Search-as-you-type on lists") on the real search
API and Elasticsearch: q's last word also completes as the start of a word as written, only with
3 letters or digits at least, never with typos; the other words match as without it, and the typo
rule still applies to them. Hypothesis draws words sharing starts (and short words) and what a
user has typed so far; text_oracle.py decides in Python what each request must return.
"""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.config import load_config
from shared.indexes import POSTS
from tests.search_api import text_oracle as oracle

EXAMPLES = oracle.EXAMPLES


@pytest.fixture(scope="module")
def tenant(search):
    return oracle.staff_with_token()


@st.composite
def typing(draw):
    """Words that share a start of their own (a stem and endings), short words made of its first
    letters, an unrelated word; posts of them; q: maybe a whole word (or a misspelling of one)
    then the start of a word, typed so far."""
    rng = random.Random(uuid.uuid4().int)  # letters unrelated to every other example's
    stem = oracle.random_word(rng, draw(st.integers(3, 6)))
    # At most five words share the stem: with the short words, below max_expansions (10 per field)
    # for a misspelt whole word, which the model does not apply.
    endings = draw(
        st.lists(st.sampled_from(["", "a", "b", "ab", "ba", "s", "ing", "aab"]), min_size=1, max_size=5, unique=True)
    )
    vocabulary = [stem + e for e in endings] + [stem[:1], stem[:2], oracle.random_word(rng, 7)]
    posts = []
    for _ in range(draw(st.integers(1, 7))):
        title = " ".join(draw(st.lists(st.sampled_from(vocabulary), min_size=1, max_size=3)))
        body = " ".join(draw(st.lists(st.sampled_from(vocabulary), max_size=2))) or "plain"
        posts.append((title, body, ()))
    typed = draw(st.sampled_from(vocabulary))
    last = typed[: draw(st.integers(1, len(typed)))]
    before = []
    if draw(st.booleans()):
        whole = draw(st.sampled_from(vocabulary))
        before = [oracle.mutate(rng, whole, 1) if draw(st.booleans()) and len(whole) >= 5 else whole]
    return posts, " ".join([*before, last])


@EXAMPLES
@given(example=typing())
def test_the_last_word_completes_as_the_model_says(search, tenant, example):
    posts, q = example
    tag, docs = oracle.seed_posts(tenant["staff"], posts)
    threshold = load_config().search_typo_threshold
    for prefix in (True, False):
        expected = oracle.exact_first(POSTS.alias, docs, q, threshold, prefix=prefix)
        oracle.check_posts(search, tenant["token"], tag, docs, q, expected, prefix=str(prefix).lower())


def test_prefix_examples(search, tenant):
    tag, docs = oracle.seed_posts(
        tenant["staff"],
        [
            ("Django migrations", "plain", ()),
            ("Django middleware", "plain", ("red",)),
            ("Graphs and python", "plain", ()),
            ("Python3 release", "plain", ()),
            ("Py tips", "plain", ()),
        ],
    )
    migrations, middleware, graphs, python3, py = (d.id for d in docs)

    def check(q, expected, prefix="true"):
        oracle.check_posts(search, tenant["token"], tag, docs, q, expected, prefix=prefix)

    check("django migr", {migrations})
    check("django mi", set())  # two letters: a whole word, and no post has the word "mi"
    check("django migr", set(), prefix="false")
    check("py", {py})  # never completes: not python nor python3
    check("pyt", {graphs, python3})
    check("python3 rel", {python3})
    check("graph", {graphs})  # the stem as usual, and the start of "graphs"
    check("migr ", set())  # a space after it: the word is complete
    check("djnago mid", {middleware})  # nothing exact: typos widen the whole words only
    check("django midlw", set())  # the completed word never carries typos
