"""How q and highlight become Elasticsearch clauses (no server): the safe query types only,
typos bounded, exact subfields boosted, highlights HTML-encoded. What they find is tested
against the real node in test_text_analysis.py and test_highlights.py."""

from __future__ import annotations

import json

import pytest

from search_api import openapi, query_builder
from search_api.filtering import MAX_Q_LENGTH, ParamErrors, parse_params
from search_api.lists import ALL_LISTS, ASSESSMENT_LIST, ATTEMPT_LIST, POST_LIST
from search_api.query_builder import (
    FUZZINESS,
    MAX_EXPANSIONS,
    MAX_FUZZY_WORDS,
    build_search,
    has_operator,
    text_query,
    weighted_fields,
)
from shared.config import ConfigError, load_config

pytestmark = pytest.mark.fast


def _clauses(query, matches) -> list[dict]:
    """Every object anywhere in a query body for which `matches` is true."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if matches(node):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(query)
    return found


def _fuzzy_clauses(query: dict) -> list[dict]:
    return _clauses(query, lambda node: "fuzziness" in node)


def test_exact_subfields_are_searched_boosted_beside_the_stemmed_fields():
    assert weighted_fields(ASSESSMENT_LIST) == ["title^2", "title.exact^4", "description", "description.exact^2"]
    for schema in ALL_LISTS:
        for field in schema.search_fields:
            mapping = schema.index.properties[field.split("^")[0]]
            assert mapping["analyzer"] == "english_text" and mapping["fields"]["exact"]["analyzer"] == "folded_text"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("graph theory", False),
        ("e-mail x-ray", False),
        ("café's 100%", False),
        ("graph -theory", True),
        ('"graph theory"', True),
        ("a | b", True),
        ("(a b)", True),
        ("a + b", True),
    ],
)
def test_operators_are_recognised_as_simple_query_string_reads_them(q, expected):
    assert has_operator(q) is expected


def _letters(i: int) -> str:
    return "".join("abcdefghij"[int(d)] for d in f"{i:04d}")


def test_plain_words_are_fuzzy_and_bounded():
    q = " ".join(f"word{_letters(i)}x" for i in range(MAX_Q_LENGTH // 10))  # every word fuzzable (9 letters)
    assert text_query(ASSESSMENT_LIST, q) == text_query(ASSESSMENT_LIST, q, typos=False)  # exact form by default
    assert _fuzzy_clauses(text_query(ASSESSMENT_LIST, q)) == []
    query = text_query(ASSESSMENT_LIST, q, typos=True)
    assert len(query["bool"]["must"]) == MAX_Q_LENGTH // 10  # every word must match
    fuzzy = _fuzzy_clauses(query)
    assert len(fuzzy) == MAX_FUZZY_WORDS  # later words: as written or stemmed only
    assert all(
        c["fuzziness"] == FUZZINESS and c["max_expansions"] == MAX_EXPANSIONS and c["prefix_length"] >= 1 for c in fuzzy
    )
    assert "query_string" not in json.dumps(query)  # simple_query_string would contain it: none here either
    repeated = text_query(ASSESSMENT_LIST, "graph " * 30, typos=True)
    assert len(repeated["bool"]["must"]) == 1  # a repeated word is one clause


@pytest.mark.parametrize(
    ("q", "typo_words"),
    [
        ("zq5e4d97a1", []),  # a code: a digit anywhere
        ("python3 generators", ["generators"]),
        ("tree and set", []),  # four letters and fewer: AUTO:5,8 allows no edit anyway
        ("graphs v2 release", ["graphs", "release"]),
        ("Café 100%", []),
        ("graphs -theory", []),  # operators: matched without typos
        ("alpha bravo charlie delta echos foxtrot", ["alpha", "bravo", "charlie", "delta", "echos"]),
    ],
)
def test_typos_never_reach_words_with_digits_nor_short_ones(q, typo_words):
    assert query_builder.typo_words(q) == typo_words
    fuzzy = _fuzzy_clauses(text_query(ASSESSMENT_LIST, q, typos=True))
    assert sorted(c["query"] for c in fuzzy) == sorted(typo_words)


@pytest.mark.parametrize("q", ["zq5e4d97a1", "grpah", "graph -theory", "asessmnet python3"])
def test_the_exact_form_matches_without_typos_and_scores_with_them(q):
    parsed = parse_params(POST_LIST, [("q", [q]), ("highlight", ["true"])])
    exact = build_search(POST_LIST, parsed, visibility={"match_all": {}})["query"]["bool"]
    widened = build_search(POST_LIST, parsed, visibility={"match_all": {}}, typos=True)["query"]["bool"]
    assert _fuzzy_clauses(exact["filter"]) == [] and _fuzzy_clauses(widened["filter"]) == []
    if query_builder.typo_words(q):
        # Which rows: the exact form in filter context; the score: the typo-tolerant form.
        assert text_query(POST_LIST, q) in exact["filter"] and text_query(POST_LIST, q) not in widened["filter"]
        assert exact["must"] == widened["must"] == [text_query(POST_LIST, q, typos=True)]
        assert _fuzzy_clauses(exact["must"])
    else:
        assert exact == widened and exact["must"] == [text_query(POST_LIST, q)] and not _fuzzy_clauses(exact)


def test_highlights_mark_what_matched_the_form_that_answered():
    parsed = parse_params(POST_LIST, [("q", ["grpah"]), ("highlight", ["true"])])
    exact = build_search(POST_LIST, parsed, visibility={"match_all": {}})["highlight"]
    assert exact["highlight_query"] == text_query(POST_LIST, "grpah") and not _fuzzy_clauses(exact)
    assert (
        "highlight_query" not in build_search(POST_LIST, parsed, visibility={"match_all": {}}, typos=True)["highlight"]
    )


def test_operators_use_simple_query_string_without_user_fuzziness():
    query = text_query(POST_LIST, "graph~2 -theory")
    sqs = query["simple_query_string"]
    assert sqs["flags"] == "AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE"  # no FUZZY, NEAR, SLOP or PREFIX
    assert sqs["fields"] == ["title^2", "title.exact^4", "body", "body.exact^2"]
    assert _fuzzy_clauses(query) == []


def test_highlight_is_html_encoded_on_the_declared_fields_only_when_asked():
    parsed = parse_params(POST_LIST, [("q", ["graph"]), ("highlight", ["true"])])
    highlight = build_search(POST_LIST, parsed, visibility={"match_all": {}})["highlight"]
    assert highlight["encoder"] == "html" and highlight["pre_tags"] == ["<em>"] and highlight["post_tags"] == ["</em>"]
    assert set(highlight["fields"]) == {"title", "body"} and highlight["max_analyzed_offset"] > 0
    for params in ([("q", ["graph"])], [("q", ["graph"]), ("highlight", ["false"])]):
        assert "highlight" not in build_search(POST_LIST, parse_params(POST_LIST, params), visibility={"match_all": {}})


@pytest.mark.parametrize(
    ("schema", "params", "message"),
    [
        (ASSESSMENT_LIST, [("q", ["x"]), ("highlight", ["1"])], "Enter true or false."),
        (ASSESSMENT_LIST, [("highlight", ["true"])], "Needs a full-text query (q=)"),
        (ATTEMPT_LIST, [("highlight", ["true"])], "Unknown parameter"),
    ],
)
def test_bad_highlight_is_named(schema, params, message):
    with pytest.raises(ParamErrors) as error:
        parse_params(schema, params)
    assert message in error.value.errors["highlight"][0]


def test_openapi_declares_highlight_where_the_schema_does():
    paths = openapi.document()["paths"]
    for path, schema in (
        ("/search/v1/assessments", ASSESSMENT_LIST),
        ("/search/v1/posts", POST_LIST),
        ("/search/v1/attempts", ATTEMPT_LIST),
    ):
        operation = paths[path]["get"]
        params = {p["name"]: p for p in operation["parameters"]}
        row = operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["results"]["items"]
        if schema.highlight_fields:
            assert params["highlight"]["schema"]["type"] == "boolean"
            assert set(row["properties"]["highlights"]["properties"]) == set(schema.highlight_fields)
        else:
            assert "highlight" not in params and "highlights" not in row["properties"]


def test_disjunctive_facets_post_filter_only_their_own_fields_conditions():
    visibility = {"term": {"organisation": 7}}
    params = [("q", ["graph"]), ("tags", ["sql"]), ("difficulty__in", ["easy,hard"]), ("attempts_count__gte", ["2"])]
    facets = [("facets", ["tags,difficulty,status"])]
    conjunctive = build_search(ASSESSMENT_LIST, parse_params(ASSESSMENT_LIST, params + facets), visibility=visibility)
    assert "post_filter" not in conjunctive and conjunctive["aggs"]["tags"] == {"terms": {"field": "tags", "size": 50}}
    parsed = parse_params(ASSESSMENT_LIST, [*params, *facets, ("facet_mode", ["disjunctive"])])
    body = build_search(ASSESSMENT_LIST, parsed, visibility=visibility)
    tags, difficulty = {"term": {"tags": "sql"}}, {"terms": {"difficulty": ["easy", "hard"]}}
    query = body["query"]["bool"]
    # Isolation, q and filters on no requested facet stay in the query, which aggregations see.
    assert visibility in query["filter"] and {"range": {"attempts_count": {"gte": 2}}} in query["filter"]
    assert tags not in query["filter"] and difficulty not in query["filter"] and query["must"]
    assert body["post_filter"] == {"bool": {"filter": [tags, difficulty]}}
    assert body["aggs"]["tags"]["filter"] == {"bool": {"filter": [difficulty]}}
    assert body["aggs"]["difficulty"]["filter"] == {"bool": {"filter": [tags]}}
    assert body["aggs"]["status"]["filter"] == {"bool": {"filter": [tags, difficulty]}}
    assert body["aggs"]["status"]["aggs"]["values"] == {"terms": {"field": "status", "size": 50}}
    # Without a condition on a requested facet's field, disjunctive is the conjunctive body.
    alone = [("facets", ["status"]), ("tags", ["sql"])]
    assert build_search(
        ASSESSMENT_LIST, parse_params(ASSESSMENT_LIST, [*alone, ("facet_mode", ["disjunctive"])]), visibility=visibility
    ) == build_search(ASSESSMENT_LIST, parse_params(ASSESSMENT_LIST, alone), visibility=visibility)


def test_openapi_declares_facet_mode_on_every_list_with_facets():
    paths = openapi.document()["paths"]
    for path, operation in ((p, item["get"]) for p, item in paths.items()):
        params = {p["name"]: p for p in operation["parameters"]}
        if "facets" in params:
            assert params["facet_mode"]["schema"] == {
                "type": "string",
                "enum": ["conjunctive", "disjunctive"],
                "default": "conjunctive",
            }, path
        else:
            assert "facet_mode" not in params, path
    assert sum("facets" in {p["name"] for p in item["get"]["parameters"]} for item in paths.values()) == 4


def _prefix_clauses(query) -> list[dict]:
    return _clauses(query, lambda node: node.get("type") == "phrase_prefix")


@pytest.mark.parametrize(
    ("q", "completed"),
    [
        ("django migr", "migr"),
        ("gra", "gra"),
        ("graphs py", None),  # two letters: a whole word
        ("a", None),
        ("c#", None),
        ("graph -migr", None),  # operators: no completion
        ("v2.1", "v2.1"),
    ],
)
def test_prefix_completes_only_a_last_word_long_enough_and_bounded(q, completed):
    query = text_query(POST_LIST, q, prefix=True)
    prefixes = _prefix_clauses(query)
    assert [c["query"] for c in prefixes] == ([completed] if completed else [])
    for clause in prefixes:
        assert clause["max_expansions"] == query_builder.PREFIX_MAX_EXPANSIONS <= 50
        assert clause["fields"] == ["title.exact^4", "body.exact^2"]  # words as written, not stems
    assert _prefix_clauses(text_query(POST_LIST, q)) == []
    # The completed word never carries typos, even in the widened form; the others may.
    fuzzy = {c["query"] for c in _fuzzy_clauses(text_query(POST_LIST, q + " migrations", typos=True, prefix=True))}
    assert "migrations" not in fuzzy
    widened = text_query(POST_LIST, "graphs migrat", typos=True, prefix=True)
    assert {c["query"] for c in _fuzzy_clauses(widened)} == {"graphs"}


def test_prefix_parameter_needs_q_binds_the_cursor_and_respects_a_trailing_space():
    def parsed(*params):
        return parse_params(POST_LIST, list(params))

    with pytest.raises(ParamErrors) as error:
        parsed(("prefix", ["true"]))
    assert "Needs a full-text query" in error.value.errors["prefix"][0]
    with pytest.raises(ParamErrors) as error:
        parsed(("q", ["gra"]), ("prefix", ["yes"]))
    assert error.value.errors["prefix"] == ["Enter true or false."]
    assert parsed(("q", ["gra"]), ("prefix", ["true"])).prefix is True
    assert parsed(("q", ["graph "]), ("prefix", ["true"])).prefix is False  # a finished word
    with_prefix = parsed(("q", ["gra"]), ("prefix", ["true"])).fingerprint("posts")
    assert with_prefix != parsed(("q", ["gra"])).fingerprint("posts")
    assert parsed(("q", ["gra"]), ("prefix", ["false"])).fingerprint("posts") == parsed(("q", ["gra"])).fingerprint(
        "posts"
    )
    with pytest.raises(ParamErrors) as error:
        parse_params(ATTEMPT_LIST, [("prefix", ["true"])])
    assert "Unknown parameter" in error.value.errors["prefix"][0]


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("0", 0), ("10000", 10_000), (None, 1)])
def test_typo_threshold_setting(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv("SEARCH_TYPO_THRESHOLD", raising=False)
    else:
        monkeypatch.setenv("SEARCH_TYPO_THRESHOLD", raw)
    assert load_config().search_typo_threshold == expected


@pytest.mark.parametrize("raw", ["-1", "10001", "many"])
def test_a_bad_typo_threshold_fails_fast(monkeypatch, raw):
    monkeypatch.setenv("SEARCH_TYPO_THRESHOLD", raw)
    with pytest.raises(ConfigError, match="SEARCH_TYPO_THRESHOLD"):
        load_config()
