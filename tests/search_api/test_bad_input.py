"""The bad-input matrix: each malformed request gets the expected 4xx, naming the parameter, in
the contract's shape {"errors": {"param": ["message", ...]}}; never a 5xx.
"""

from __future__ import annotations

import base64
from urllib.parse import unquote

import pytest

from tests.search_api.conftest import fresh_token

LISTS = {
    "assessments": "/search/v1/assessments",
    "leaderboard": "/search/v1/assessments/{leaderboard}/leaderboard",
    "attempts": "/search/v1/attempts",
    "posts": "/search/v1/posts",
}

# (list, params, parameter the error must name, a fragment of its message)
BAD_PARAMS = [
    ("assessments", {"colour": "red"}, "colour", "Unknown parameter. Allowed: q, ordering, page_size"),
    ("leaderboard", {"q": "python"}, "q", "Unknown parameter"),
    ("attempts", {"score__between": "1"}, "score__between", "Unknown parameter"),
    ("posts", {"comments_count__in": "1,2"}, "comments_count__in", "Unknown parameter"),
    ("assessments", {"created_at": "2025-01-01"}, "created_at", "Unknown parameter"),  # ranges only
    ("assessments", {"page_size": "0"}, "page_size", "between 1 and 100"),
    ("posts", {"page_size": "101"}, "page_size", "between 1 and 100"),
    ("attempts", {"page_size": "ten"}, "page_size", "whole number"),
    ("attempts", {"page_size": " 5"}, "page_size", "whole number"),
    ("assessments", {"ordering": "price"}, "ordering", "Unknown ordering 'price'. Allowed: relevance, created_at"),
    ("assessments", {"ordering": "relevance"}, "ordering", "needs a full-text query"),
    ("assessments", {"ordering": "-relevance", "q": "x"}, "ordering", "Unknown ordering"),
    ("posts", {"ordering": "created_at,-created_at"}, "ordering", "more than once"),
    ("leaderboard", {"ordering": "rank,score,time_taken,submitted_at"}, "ordering", "At most 3"),
    ("leaderboard", {"score__gte": "high"}, "score__gte", "Enter a number"),
    ("leaderboard", {"score__gte": "NaN"}, "score__gte", "Enter a number"),
    ("leaderboard", {"percentile__lt": "1e999"}, "percentile__lt", "finite"),
    ("leaderboard", {"qualified": "yes"}, "qualified", "true or false"),
    ("leaderboard", {"rank": "-1"}, "rank", "between 0 and"),
    ("attempts", {"submitted_at__gte": "yesterday"}, "submitted_at__gte", "ISO 8601"),
    ("attempts", {"started_at__lt": "2025-13-01"}, "started_at__lt", "valid date-time"),
    ("attempts", {"started_at__lt": "2025-01-01T25:00:00Z"}, "started_at__lt", "valid date-time"),
    ("attempts", {"status": "finished"}, "status", "Must be one of: started, submitted"),
    ("assessments", {"difficulty__in": "easy,extreme"}, "difficulty__in", "Value 2 ('extreme')"),
    ("assessments", {"organisation": "0"}, "organisation", "between 1 and"),
    ("assessments", {"organisation": "99999999999999999999"}, "organisation", "whole number"),
    ("assessments", {"id__in": ",".join(map(str, range(1, 103)))}, "id__in", "At most 100"),
    ("assessments", {"id__in": "1,,2"}, "id__in", "Value 2"),
    ("assessments", {"tags": ""}, "tags", "Must not be empty"),
    ("assessments", {"tags": "x" * 51}, "tags", "At most 50 characters"),
    ("posts", {"q": "   "}, "q", "Must contain a word"),
    ("posts", {"q": "word " * 41}, "q", "At most 200 characters"),
    ("posts", {"facets": "tags,colour"}, "facets", "Unknown facet 'colour'. Allowed: tags, assessment"),
    ("attempts", {"cursor": "not-a-cursor"}, "cursor", "Invalid cursor"),
    ("attempts", {"cursor": "x" * 1001}, "cursor", "too long"),
]


@pytest.fixture(scope="module")
def caller(search, dataset):
    return {"token": fresh_token(dataset.tenant.staff), "leaderboard": dataset.leaderboards[0], "dataset": dataset}


def _path(caller, list_name: str) -> str:
    return LISTS[list_name].format(leaderboard=caller["leaderboard"])


@pytest.mark.parametrize(
    ("list_name", "params", "param", "message"),
    BAD_PARAMS,
    ids=[f"{case[0]}-{case[2]}-{i}" for i, case in enumerate(BAD_PARAMS)],
)
def test_bad_parameter_is_a_400_naming_it(search, caller, list_name, params, param, message):
    response = search.get(_path(caller, list_name), caller["token"], params)
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert param in errors, errors
    assert any(message in m for m in errors[param]), errors


def test_repeated_parameter_is_a_400(search, caller):
    response = search.get("/search/v1/assessments", caller["token"], [("tags", "a"), ("tags", "b")])
    assert response.status_code == 400
    assert "more than once" in response.json()["errors"]["tags"][0]


def test_too_many_parameters_is_a_400(search, caller):
    response = search.get("/search/v1/posts", caller["token"], {f"p{i}": "1" for i in range(70)})
    assert response.status_code == 400
    assert response.json() == {"errors": {"detail": ["Too many query parameters (at most 64)."]}}


def test_every_bad_parameter_is_reported_at_once(search, caller):
    response = search.get("/search/v1/posts", caller["token"], {"x": "1", "page_size": "0", "created_at__gte": "soon"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"x", "page_size", "created_at__gte"}


def _cursor(search, caller, params: dict) -> str:
    page = search.ok("/search/v1/posts", caller["token"], {**params, "page_size": "1"})
    assert page["next"], "the data set has more than one post"
    return page["next"].split("cursor=")[1].split("&")[0]


def test_forged_tampered_and_foreign_cursors_are_400(search, caller):
    raw = unquote(_cursor(search, caller, {"ordering": "-created_at"}))
    value, _, signature = raw.rpartition(":")
    tampered = f"{value}:{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    forged_payload = base64.urlsafe_b64encode(b'{"f":"x","a":[1,2]}').decode().rstrip("=")
    attempts = {
        "tampered signature": (tampered, {"ordering": "-created_at"}),
        "forged payload": (f"{forged_payload}:{signature}", {"ordering": "-created_at"}),
        "other ordering": (raw, {"ordering": "created_at"}),
        "other filters": (raw, {"ordering": "-created_at", "comments_count__gte": "1"}),
    }
    for name, (bad_cursor, params) in attempts.items():
        response = search.get("/search/v1/posts", caller["token"], {**params, "cursor": bad_cursor})
        assert response.status_code == 400, name
        assert "cursor" in response.json()["errors"], name
    # The same cursor on another list (different fingerprint) is refused too.
    response = search.get("/search/v1/assessments", caller["token"], {"ordering": "-created_at", "cursor": raw})
    assert response.status_code == 400
    # And with its own parameters it works, with another page size as well.
    assert (
        search.get(
            "/search/v1/posts", caller["token"], {"ordering": "-created_at", "cursor": raw, "page_size": "5"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    "path",
    [
        "/search/v1/assessments/999999999999/leaderboard",
        f"/search/v1/assessments/{2**63}/leaderboard",
        "/search/v1/assessments/abc/leaderboard",
        "/search/v1/nothing",
        "/search/v1/posts/",
    ],
)
def test_unknown_paths_and_ids_are_json_404(search, caller, path):
    response = search.get(path, caller["token"])
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"errors": {"detail": ["Not found."]}}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405(search, caller, method):
    response = search.session.request(
        method, f"{search.base_url}/search/v1/posts", headers={"Authorization": f"Token {caller['token']}"}, timeout=10
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert "errors" in response.json()


def test_hostile_text_is_only_ever_words(search, caller):
    """query_string syntax, regexes, scripts and wildcards are just text to match: 200, no error."""
    for q in ["title:* OR 1=1", "/.*/", 'a~2 "b"~5', "*", "x AND (y", '{"script": "1"}', "\\", "\x00", "ünïcödé ✓"]:
        response = search.get("/search/v1/posts", caller["token"], {"q": q})
        assert response.status_code == 200, (q, response.text)
