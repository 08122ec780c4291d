"""Title suggestions without a server: parameter validation (every bad parameter named, in the
lists' error style), the search body (the list's own tombstone and visibility filters, bounded
size, no count), the specs against the index mappings, and their OpenAPI operations. The live
behaviour is tests/search_api/test_suggest.py."""

from __future__ import annotations

import pytest

from search_api import openapi, suggest
from search_api.auth import STAFF, Principal
from search_api.filtering import MAX_Q_LENGTH, ParamErrors
from search_api.filtering import parse_params as parse_list_params
from search_api.query_builder import base_filters
from search_api.suggest import ALL_SUGGESTIONS, ASSESSMENT_TITLES, MAX_LIMIT, POST_TITLES, SuggestQuery, parse_params

pytestmark = pytest.mark.fast  # no server: bin/test --fast

STAFF_OF_7 = Principal(user_id=1, organisation_id=7, role=STAFF, credential="user:1")
CANDIDATE = Principal(user_id=2, organisation_id=None, role="candidate", credential="user:2")


def _parse(params: dict[str, str | list[str]]) -> SuggestQuery:
    return parse_params([(k, v if isinstance(v, list) else [v]) for k, v in params.items()])


def _errors(params: dict[str, str | list[str]]) -> dict[str, list[str]]:
    with pytest.raises(ParamErrors) as caught:
        _parse(params)
    return caught.value.errors


def test_prefix_is_kept_as_typed_and_limit_defaults_to_the_maximum():
    assert _parse({"prefix": "  gra "}) == SuggestQuery(prefix="  gra ", limit=MAX_LIMIT)  # the space ends the word
    assert _parse({"prefix": "graph th", "limit": "3"}) == SuggestQuery(prefix="graph th", limit=3)
    assert _parse({"prefix": "x" * MAX_Q_LENGTH, "limit": "1"}).limit == 1
    assert _parse({"prefix": "日本"}).prefix == "日本"  # letters of any script count
    assert _parse({"prefix": "a b"}).prefix == "a b"  # two letters in all: "a" must match, "b" starts a word


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "Required."),
        ({"limit": "5"}, "Required."),
        ({"prefix": ""}, "Must not be empty."),
        ({"prefix": "   "}, "Must contain a word."),
        ({"prefix": "a"}, "at least 2 letters or digits"),
        ({"prefix": " a "}, "at least 2 letters or digits"),
        ({"prefix": "a!"}, "at least 2 letters or digits"),
        ({"prefix": "%%%"}, "at least 2 letters or digits"),
        ({"prefix": "--- ..."}, "at least 2 letters or digits"),
        ({"prefix": "x" * (MAX_Q_LENGTH + 1)}, f"At most {MAX_Q_LENGTH} characters."),
        ({"prefix": "graph " * 2000}, f"At most {MAX_Q_LENGTH} characters."),  # 10 kB
        ({"prefix": ["gra", "que"]}, "more than once"),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_bad_prefix_is_named(params, message):
    errors = _errors(params)
    assert list(errors) == ["prefix"], errors
    assert any(message in m for m in errors["prefix"]), errors


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "between 1 and 10"),
        ("11", "between 1 and 10"),
        ("-1", "between 1 and 10"),
        ("ten", "whole number"),
        (" 5", "whole number"),
        ("5.0", "whole number"),
        ("", "Must not be empty."),
    ],
)
def test_bad_limit_is_named(raw, message):
    errors = _errors({"prefix": "gra", "limit": raw})
    assert list(errors) == ["limit"] and message in errors["limit"][0], errors


def test_every_bad_parameter_is_named_at_once_and_unknown_ones_list_the_allowed():
    errors = _errors({"prefix": "a", "limit": "99", "q": "graph", "page_size": "5"})
    assert set(errors) == {"prefix", "limit", "q", "page_size"}
    assert errors["q"] == ["Unknown parameter. Allowed: prefix, limit."]


def test_body_has_the_lists_filters_and_is_bounded():
    for spec, principal in ((ASSESSMENT_TITLES, STAFF_OF_7), (ASSESSMENT_TITLES, CANDIDATE), (POST_TITLES, STAFF_OF_7)):
        visibility = spec.schema.visibility(principal)
        body = suggest.build_search(spec, SuggestQuery(prefix="Graph th", limit=4), visibility=visibility)
        # Exactly what the list itself filters with, unfiltered: tombstones and the caller's visibility.
        assert body["query"]["bool"]["filter"] == base_filters(
            spec.schema, parse_list_params(spec.schema, []), visibility=visibility
        )
        # On the words as written: the stemmed title's terms need not start with what was typed.
        assert body["query"]["bool"]["must"] == [
            {"match_bool_prefix": {"title.exact": {"query": "Graph th", "operator": "and"}}}
        ]
        assert body["sort"] == [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]
        assert body["size"] == 4 and body["track_total_hits"] is False
        assert body["_source"] == ["id", "title"]
        assert set(body) == {"query", "sort", "size", "_source", "track_total_hits"}  # no aggs, no from, no count


def test_specs_fit_the_mapping_and_the_list_rows():
    for spec in ALL_SUGGESTIONS:
        properties = spec.schema.index.properties
        assert properties[spec.field]["type"] == "text", spec
        exact = properties[spec.field]["fields"]["exact"]  # match_bool_prefix analyses the prefix like it
        assert exact == {"type": "text", "analyzer": "folded_text"}, spec
        assert properties[spec.schema.id_field]["type"] == "long", spec  # the tie-breaker sorts on doc values
        assert spec.row == {"id": spec.schema.row["id"], "title": spec.schema.row["title"]}


def test_openapi_documents_both_operations_with_the_parsers_limits():
    paths = openapi.document()["paths"]
    for spec in ALL_SUGGESTIONS:
        operation = paths[f"/search/v1/{spec.schema.name}/suggest"]["get"]
        params = {p["name"]: p for p in operation["parameters"]}
        assert tuple(params) == (*suggest.PARAMS, "Consistency-Token", "consistency_token")
        assert params["prefix"]["required"] is True
        assert params["prefix"]["schema"] == {"type": "string", "minLength": 2, "maxLength": MAX_Q_LENGTH}
        assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}
        assert {"200", "400", "401", "405", "414", "429", "503"} == set(operation["responses"])
        results = operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["results"]
        assert results["items"]["required"] == ["id", "title"] and results["maxItems"] == MAX_LIMIT
