"""Search synonyms on the real stack: `manage.py search_synonyms` validates and stores a set per
index (a bad rule: exit status 1, the stored set untouched), the search API applies a change within
SEARCH_SYNONYMS_TTL_SECONDS without a rebuild (the same physical index), and what q finds with a
random set of rules over random corpora matches the brute-force model (text_oracle.py): a whole
word also finds its synonyms as phrases, the typo rule on top.

The module saves every index's stored set first and puts it back at the end.
"""

from __future__ import annotations

import random
import subprocess
import sys
import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from read_indexer.lifecycle.index_lifecycle import alias_target
from read_indexer.projection.documents import project_and_index
from shared import synonyms
from shared.config import load_config
from shared.es_client import get_es_client
from shared.indexes import POSTS
from tests.conftest import ROOT
from tests.helpers import make_tenant, wait_until
from tests.search_api import text_oracle as oracle
from tests.search_api.conftest import fresh_token, refresh_indexes
from write_service.assessments.services import assessment_create

EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
APPLIED_WITHIN = load_config().search_synonyms_ttl_seconds + 15  # the server's cache, then slack


@pytest.fixture(scope="module", autouse=True)
def saved_sets(search):
    es = get_es_client()
    saved = {name: synonyms.load(es, name).rules for name in synonyms.SYNONYM_INDEXES}
    yield
    for name, rules in saved.items():
        synonyms.store(es, name, synonyms.parse_rules(rules), previous=synonyms.load(es, name))


@pytest.fixture(scope="module")
def tenant(search):
    tenant = make_tenant(candidates=0)
    return {"staff": tenant.staff, "token": fresh_token(tenant.staff)}


def _stored(index: str) -> tuple[str, ...]:
    return synonyms.load(get_es_client(), index).rules


def _ids(search, tenant, tag: str, q: str) -> set[int]:
    return {r["id"] for r in search.all_rows(oracle.POSTS_PATH, tenant["token"], {"q": q, "tags": tag})}


def test_a_change_applies_to_searches_without_a_rebuild(search, tenant):
    rng = random.Random(uuid.uuid4().int)
    a, b, c = (oracle.random_word(rng, 9) for _ in range(3))
    tag, docs = oracle.seed_posts(tenant["staff"], [(f"About {a}", "x", ()), (f"About {b}", "x", ()), (c, "x", ())])
    physical = alias_target(POSTS)
    assert _ids(search, tenant, tag, a) == {docs[0].id}
    call_command("search_synonyms", "add", f"{a}, {b}", f"{c} => {a}", index="posts")
    assert f"{a}, {b}" in _stored("posts") and f"{c} => {a}" in _stored("posts")
    wait_until(lambda: _ids(search, tenant, tag, a) == {docs[0].id, docs[1].id}, APPLIED_WITHIN, message="a set added")
    assert _ids(search, tenant, tag, b) == {docs[0].id, docs[1].id}
    assert _ids(search, tenant, tag, c) == {docs[0].id, docs[2].id}  # one way: c finds a's post
    assert _ids(search, tenant, tag, a) == {docs[0].id, docs[1].id}  # not c's
    call_command("search_synonyms", "remove", f"{a}, {b}", index="posts")
    wait_until(lambda: _ids(search, tenant, tag, a) == {docs[0].id}, APPLIED_WITHIN, message="a rule removed")
    assert alias_target(POSTS) == physical  # no new index: nothing was rebuilt


def test_a_bad_rule_is_an_error_and_nothing_is_written(tmp_path):
    before = _stored("comments")
    rules = tmp_path / "rules.txt"
    rules.write_text("zqfine, zqgood\n# comment\nc++, cpp\nzqlone\n")
    result = subprocess.run(
        [sys.executable, "manage.py", "search_synonyms", "set", "--index", "comments", "--file", str(rules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result
    assert "line 3" in result.stderr and "line 4" in result.stderr and "nothing written" in result.stderr
    assert _stored("comments") == before
    for args in (("add", "machine learning => ml"), ("remove", "zqnever, zqthere")):
        with pytest.raises(CommandError):
            call_command("search_synonyms", *args, index="comments")
        assert _stored("comments") == before
    with pytest.raises(CommandError, match="needs --index"):
        call_command("search_synonyms", "add", "a, b")


def test_set_replaces_the_whole_set_and_list_shows_it(tmp_path, capsys):
    rules = tmp_path / "rules.txt"
    rules.write_text("Zqone, ZQTWO  # both ways\nzqthree => zqfour, zq five\n")
    call_command("search_synonyms", "set", index="comments", file=str(rules))
    assert _stored("comments") == ("zqone, zqtwo", "zqthree => zqfour, zq five")
    call_command("search_synonyms", "list", index="comments")
    assert "comments: 2 rule(s)\n  zqone, zqtwo\n  zqthree => zqfour, zq five" in capsys.readouterr().out
    rules.write_text("")
    call_command("search_synonyms", "set", index="comments", file=str(rules))
    assert _stored("comments") == ()


def test_the_demo_set_is_valid_and_stored_for_every_index():
    call_command("search_synonyms", "demo")
    for name in synonyms.SYNONYM_INDEXES:
        assert "postgres, postgresql, pg" in _stored(name) and "golang => go" in _stored(name)


# --- random rules and corpora against the model -----------------------------------------------

RNG = random.Random(uuid.uuid4().int)
VOCABULARY = [oracle.random_word(RNG, RNG.randint(5, 9)) for _ in range(8)]
RULES = [
    f"{VOCABULARY[0]}, {VOCABULARY[1]}",  # a group
    f"{VOCABULARY[2]} => {VOCABULARY[3]}, {VOCABULARY[4]} {VOCABULARY[5]}",  # one way, with a phrase
    f"{VOCABULARY[1]}, {VOCABULARY[6]}",  # a word in two rules: both widen it
]
EXPANSIONS = synonyms.expansions(synonyms.parse_rules(RULES))


@pytest.fixture(scope="module")
def random_rules(search, tenant):
    """The module's rules on posts, applied: a probe post of VOCABULARY[1] found by VOCABULARY[0]."""
    es = get_es_client()
    synonyms.store(es, "posts", synonyms.parse_rules(RULES), previous=synonyms.load(es, "posts"))
    tag, docs = oracle.seed_posts(tenant["staff"], [(VOCABULARY[1], "probe", ())])
    wait_until(
        lambda: _ids(search, tenant, tag, VOCABULARY[0]) == {docs[0].id}, APPLIED_WITHIN, message="the random rules"
    )


@st.composite
def corpora(draw):
    rng = random.Random(uuid.uuid4().int)

    misspelt = {base: oracle.mutate(rng, base, 1) for base in VOCABULARY}  # one each: below max_expansions

    def word() -> str:
        base = draw(st.sampled_from(VOCABULARY))
        return misspelt[base] if draw(st.integers(0, 4)) == 0 else base

    posts = []
    for _ in range(draw(st.integers(1, 7))):
        title = " ".join(word() for _ in range(draw(st.integers(1, 3))))
        posts.append((title, " ".join(word() for _ in range(draw(st.integers(0, 2)))) or "plain", ()))
    q = " ".join(word() for _ in range(draw(st.integers(1, 2))))
    return posts, q


@EXAMPLES
@given(corpus=corpora())
def test_synonyms_find_what_the_model_says(search, tenant, random_rules, corpus):
    posts, q = corpus
    tag, docs = oracle.seed_posts(tenant["staff"], posts)
    expected = oracle.exact_first(POSTS.alias, docs, q, load_config().search_typo_threshold, synonyms=EXPANSIONS)
    oracle.check_posts(search, tenant["token"], tag, docs, q, expected)


def test_a_full_set_and_a_q_of_widened_words_stay_bounded(search, tenant):
    """Thirty words of q, each with nine synonyms: the first ten words widened, 200, fast."""
    stem = oracle.random_word(random.Random(uuid.uuid4().int), 4)
    rules = [", ".join([f"{stem}{i}", *(f"{stem}{i}x{j}" for j in range(9))]) for i in range(30)]
    es = get_es_client()
    synonyms.store(es, "assessments", synonyms.parse_rules(rules), previous=synonyms.load(es, "assessments"))
    probe = assessment_create(
        actor=tenant["staff"],
        title=f"{stem}0x8",
        description="probe",
        status="draft",
        cut_off=Decimal(1),
        max_score=Decimal(10),
        duration_minutes=5,
    ).pk
    project_and_index("assessments", [probe])
    refresh_indexes()

    def found(q: str) -> list[int]:
        return [r["id"] for r in search.ok("/search/v1/assessments", tenant["token"], {"q": q})["results"]]

    wait_until(lambda: found(f"{stem}0") == [probe], APPLIED_WITHIN, message="the full set")
    q = " ".join(f"{stem}{i}" for i in range(30))
    assert len(q) <= 200
    for params in ({"q": q}, {"q": q, "highlight": "true", "prefix": "true", "page_size": "100"}):
        response = search.get("/search/v1/assessments", tenant["token"], params)
        assert response.status_code == 200 and response.json()["count"] == 0, response.text[:500]
        assert response.elapsed.total_seconds() < 5
    assert found(f"{stem}0 {stem}0x8") == [probe]
