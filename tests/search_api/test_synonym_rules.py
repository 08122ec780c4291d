"""Synonym rules (shared/synonyms.py), their cache (search_api/synonym_cache.py) and how they widen
q's query (no server): validation names the bad line, expansions merge rules, only whole plain
words are widened, and a stale cache entry is read again."""

from __future__ import annotations

import pytest

from search_api.filtering import parse_params
from search_api.lists import POST_LIST
from search_api.query_builder import MAX_SYNONYM_WORDS, SYNONYM_BOOST, build_search, text_query
from search_api.synonym_cache import SynonymCache
from shared import synonyms

pytestmark = pytest.mark.fast


def test_rules_are_normalised_and_expanded_both_ways_or_one_way():
    rules = synonyms.parse_rules(
        ["Postgres,  PostgreSQL , pg", "golang => go, Go Language", "# a comment", "", "pg, pgsql"]
    )
    assert [r.text for r in rules] == ["postgres, postgresql, pg", "golang => go, go language", "pg, pgsql"]
    assert synonyms.expansions(rules) == {
        "postgres": ("postgresql", "pg"),
        "postgresql": ("postgres", "pg"),
        "pg": ("postgres", "postgresql", "pgsql"),
        "golang": ("go", "go language"),
        "pgsql": ("pg",),
    }
    assert synonyms.parse_rule("Café, coffee").sources == ("cafe", "coffee")  # accents folded
    # A multi-word member of a group is found, never typed (q is matched word by word).
    assert synonyms.expansions([synonyms.parse_rule("ml, machine learning")]) == {"ml": ("machine learning",)}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("postgres", "two different terms"),
        ("pg, PG", "two different terms"),
        ("a, , b", "an empty term"),
        ("a => b => c", "more than one =>"),
        ("machine learning => ml", "left of => is one word"),
        ("c++, cpp", "only letters, digits and spaces"),
        ('"quoted", x', "only letters, digits and spaces"),
        ("a b c d e, x", "more than 4 words"),
        ("x" * 51 + ", y", "longer than 50"),
        (", ".join(f"w{i}" for i in range(11)), "more than 10 terms"),
        ("big data, machine learning", "a one-word term"),
        ("=> go", "an empty term"),
    ],
)
def test_a_bad_rule_is_named_with_its_line(line, message):
    with pytest.raises(synonyms.InvalidRules) as error:
        synonyms.parse_rules(["pg, postgres", line])
    assert len(error.value.errors) == 1 and error.value.errors[0].startswith("line 2")
    assert message in error.value.errors[0]


def test_every_bad_line_is_reported_and_the_set_is_bounded():
    with pytest.raises(synonyms.InvalidRules) as error:
        synonyms.parse_rules(["x", "a, b", "y"])
    assert [e.split(" ")[1] for e in error.value.errors] == ["1", "3"]
    with pytest.raises(synonyms.InvalidRules, match="at most 500"):
        synonyms.parse_rules(f"w{i}, v{i}" for i in range(synonyms.MAX_RULES + 1))


def test_a_word_finds_at_most_ten_terms_and_only_ten_words_are_widened():
    with pytest.raises(synonyms.InvalidRules, match="'pg' would find 11 other terms: at most 10"):
        synonyms.parse_rules(["pg, a1, a2, a3, a4, a5", "pg, b1, b2, b3, b4, b5, b6"])
    expansions = {f"w{i}": (f"v{i}",) for i in range(30)}
    query = text_query(POST_LIST, " ".join(f"w{i}" for i in range(30)), synonyms=expansions)
    widened = [clause for clause in query["bool"]["must"] if "should" in clause.get("bool", {})]
    assert len(widened) == MAX_SYNONYM_WORDS == 10
    cache = SynonymCache(5)
    stored = tuple(f"pg, t{i}" for i in range(15))  # written behind the command's back
    assert len(cache.get("posts", lambda: stored)["pg"]) == synonyms.MAX_TERMS_PER_WORD


def test_whole_plain_words_are_widened_to_phrases_of_their_synonyms():
    expansions = {"golang": ("go", "go language")}
    query = text_query(POST_LIST, "Golang channels", synonyms=expansions)
    golang, channels = query["bool"]["must"]
    assert channels == text_query(POST_LIST, "channels")["bool"]["must"][0]  # no synonym: as before
    word, *alternatives = golang["bool"]["should"]
    assert word == text_query(POST_LIST, "Golang")["bool"]["must"][0] and golang["bool"]["minimum_should_match"] == 1
    assert [a["multi_match"]["query"] for a in alternatives] == ["go", "go language"]
    assert all(
        a["multi_match"]["type"] == "phrase" and a["multi_match"]["boost"] == SYNONYM_BOOST for a in alternatives
    )
    assert "fuzziness" not in str(alternatives)
    # Operators, and a last word being completed, are never widened.
    assert text_query(POST_LIST, "golang -x", synonyms=expansions) == text_query(POST_LIST, "golang -x")
    completed = text_query(POST_LIST, "golang", prefix=True, synonyms=expansions)
    assert "phrase" not in [c.get("multi_match", {}).get("type") for c in completed["bool"]["must"]]
    # Both forms of the exact-first rule carry them.
    parsed = parse_params(POST_LIST, [("q", ["golang channels"])])
    for typos in (False, True):
        assert "go language" in str(build_search(POST_LIST, parsed, visibility={}, typos=typos, synonyms=expansions))


def test_the_cache_reads_again_only_when_stale_and_skips_a_bad_stored_rule():
    now = [0.0]
    reads = []
    cache = SynonymCache(5, clock=lambda: now[0])

    def read():
        reads.append(now[0])
        return ("pg, postgres", "bad") if len(reads) == 1 else ("js, javascript",)

    assert cache.get("posts", read) == {"pg": ("postgres",), "postgres": ("pg",)}
    now[0] = 4.9
    assert cache.get("posts", read) == {"pg": ("postgres",), "postgres": ("pg",)} and reads == [0.0]
    now[0] = 5.0
    assert cache.get("posts", read) == {"js": ("javascript",), "javascript": ("js",)} and reads == [0.0, 5.0]
