"""The visibility matrix: staff, candidate, another organisation's staff and candidate, and
anonymous callers, against every list. Data goes through the write API and the real pipeline.

World: organisation A has a published assessment (`pa`), one that was published, attempted and
then unpublished (`hidden`), and a draft (`da`); organisation B a published (`pb`) and a draft
(`db`). A's candidate attempts pa (submitted), hidden (submitted) and pb (started only); B's
candidate attempts pa (submitted). Both organisations have posts.
"""

from __future__ import annotations

import pytest

from read_indexer.operations import pipeline_status
from tests.helpers import ApiClient, make_tenant, ok_json, wait_until
from tests.search_api.conftest import es_source, fresh_token, refresh_indexes

ASSESSMENT = {"title": "Visibility", "cut_off": "50", "max_score": "100", "duration_minutes": 30}
PRINCIPALS = ("staff_a", "candidate_a", "staff_b", "candidate_b")


@pytest.fixture(scope="module")
def world(search, pipeline):
    api = ApiClient()
    a, b = make_tenant(candidates=1), make_tenant(candidates=1)
    ids: dict[str, int] = {}

    def assessment(tenant, name, status):
        ids[name] = ok_json(
            api.post("/api/v1/assessments", {**ASSESSMENT, "status": status}, token=tenant.staff_token)
        )["id"]

    def attempt(token, assessment_name, score=None):
        attempt_id = ok_json(api.post(f"/api/v1/assessments/{ids[assessment_name]}/attempts", {}, token=token))["id"]
        if score is not None:
            ok_json(api.post(f"/api/v1/attempts/{attempt_id}/submit", {"score": score}, token=token), 200)
        return attempt_id

    assessment(a, "pa", "published")
    assessment(a, "hidden", "published")
    assessment(a, "da", "draft")
    assessment(b, "pb", "published")
    assessment(b, "db", "draft")
    attempts = {
        "a_pa": attempt(a.candidate_tokens[0], "pa", "80"),
        "a_hidden": attempt(a.candidate_tokens[0], "hidden", "50"),
        "a_pb": attempt(a.candidate_tokens[0], "pb"),
        "b_pa": attempt(b.candidate_tokens[0], "pa", "60"),
    }
    ok_json(api.patch(f"/api/v1/assessments/{ids['hidden']}", {"status": "draft"}, token=a.staff_token), 200)
    posts = {
        "a_staff": ok_json(api.post("/api/v1/posts", {"title": "A staff", "body": "b"}, token=a.staff_token))["id"],
        "a_candidate": ok_json(
            api.post("/api/v1/posts", {"title": "A cand", "body": "b"}, token=a.candidate_tokens[0])
        )["id"],
        "b_staff": ok_json(api.post("/api/v1/posts", {"title": "B staff", "body": "b"}, token=b.staff_token))["id"],
    }

    def indexed():
        docs = [es_source("assessments", i) for i in ids.values()] + [es_source("posts", i) for i in posts.values()]
        attempt_docs = {name: es_source("attempts", i) for name, i in attempts.items()}
        return (
            all(docs)
            and all(attempt_docs.values())
            and es_source("assessments", ids["hidden"])["status"] == "draft"
            and all(attempt_docs[n]["status"] == "submitted" for n in ("a_pa", "a_hidden", "b_pa"))
        )

    wait_until(indexed, timeout=60, message="the visibility world in the index")
    refresh_indexes()  # GET is real-time, search is not: make the state just seen searchable
    tokens = {
        "staff_a": fresh_token(a.staff),
        "candidate_a": fresh_token(a.candidates[0]),
        "staff_b": fresh_token(b.staff),
        "candidate_b": fresh_token(b.candidates[0]),
    }
    return {
        "ids": ids,
        "attempts": attempts,
        "posts": posts,
        "tokens": tokens,
        "orgs": f"{a.organisation.pk},{b.organisation.pk}",
    }


# list -> principal -> the world's rows that principal sees (None: 404)
EXPECTED = {
    "assessments": {
        "staff_a": {"pa", "hidden", "da", "pb"},
        "candidate_a": {"pa", "pb"},
        "staff_b": {"pa", "pb", "db"},
        "candidate_b": {"pa", "pb"},
    },
    "leaderboard:pa": dict.fromkeys(PRINCIPALS, {"a_pa", "b_pa"}),
    "leaderboard:pb": dict.fromkeys(PRINCIPALS, set()),  # its only attempt is not submitted
    "leaderboard:hidden": {"staff_a": {"a_hidden"}, "candidate_a": None, "staff_b": None, "candidate_b": None},
    "leaderboard:da": {"staff_a": set(), "candidate_a": None, "staff_b": None, "candidate_b": None},
    "leaderboard:db": {"staff_a": None, "candidate_a": None, "staff_b": set(), "candidate_b": None},
    "attempts": {
        "staff_a": {"a_pa", "a_hidden", "b_pa"},
        "candidate_a": {"a_pa", "a_hidden", "a_pb"},
        "staff_b": {"a_pb"},
        "candidate_b": {"b_pa"},
    },
    "posts": {
        "staff_a": {"a_staff", "a_candidate"},
        "candidate_a": {"a_staff", "a_candidate"},
        "staff_b": {"b_staff"},
        "candidate_b": {"b_staff"},
    },
}


def _request(world, list_key: str):
    kind, _, assessment = list_key.partition(":")
    if kind == "leaderboard":
        return f"/search/v1/assessments/{world['ids'][assessment]}/leaderboard", {}, world["attempts"], "attempt_id"
    if kind == "assessments":
        return "/search/v1/assessments", {"organisation__in": world["orgs"]}, world["ids"], "id"
    if kind == "attempts":
        return "/search/v1/attempts", {}, world["attempts"], "attempt_id"
    return "/search/v1/posts", {}, world["posts"], "id"


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("list_key", list(EXPECTED))
def test_visibility_matrix(search, world, list_key, principal):
    path, params, names, id_field = _request(world, list_key)
    response = search.get(path, world["tokens"][principal], {**params, "page_size": "100"})
    expected = EXPECTED[list_key][principal]
    if expected is None:
        assert response.status_code == 404, response.text
        assert response.json() == {"errors": {"detail": ["Not found."]}}
        return
    assert response.status_code == 200, response.text
    world_ids = {v: k for k, v in names.items()}
    seen = {world_ids[row[id_field]] for row in response.json()["results"] if row[id_field] in world_ids}
    assert seen == expected
    if list_key in ("attempts", "posts"):  # tenant-scoped lists: nothing from anyone else at all
        assert len(response.json()["results"]) == len(expected)


@pytest.mark.parametrize("list_key", list(EXPECTED))
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Token not-a-real-token"},
        {"Authorization": "Bearer x"},
        {"Cookie": "sessionid=forgedsessionkey123"},
    ],
    ids=["none", "bad-token", "bearer", "bad-session"],
)
def test_anonymous_gets_401_everywhere(search, world, list_key, headers):
    path, params, _, _ = _request(world, list_key)
    response = search.get(path, params=params, headers=dict(headers))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert list(response.json()["errors"]) == ["detail"]


def test_parameters_cannot_widen_visibility(search, world):
    """Asking for another organisation's rows by filter only narrows the caller's own set."""
    token = world["tokens"]["staff_b"]
    a_org = world["orgs"].split(",")[0]
    rows = search.ok("/search/v1/assessments", token, {"organisation": a_org, "status__in": "draft,archived"})[
        "results"
    ]
    assert rows == []
    rows = search.ok("/search/v1/attempts", token, {"assessment": world["ids"]["pa"]})["results"]
    assert rows == []
    rows = search.ok("/search/v1/posts", token, {"id__in": ",".join(map(str, world["posts"].values()))})["results"]
    assert [r["id"] for r in rows] == [world["posts"]["b_staff"]]


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("kind", ["assessments", "attempts"])
def test_one_row_by_id_has_its_lists_visibility_and_row(search, world, kind, principal):
    """GET assessments/{id} and attempts/{id}: 200 with exactly the list's row (an attempt's rank,
    percentile and qualified included) when the list shows it to the caller, else 404."""
    token = world["tokens"][principal]
    names, id_field = (world["ids"], "id") if kind == "assessments" else (world["attempts"], "attempt_id")
    pipeline_status.wait_until_idle()  # the assessments' counters too: list and detail must see one state
    refresh_indexes()
    listed = {
        row[id_field]: row
        for page in search.walk(f"/search/v1/{kind}", token, {"page_size": "100"})
        for row in page["results"]
    }
    for name, row_id in names.items():
        response = search.get(f"/search/v1/{kind}/{row_id}", token)
        if name in EXPECTED[kind][principal]:
            assert response.status_code == 200, (name, response.text)
            assert response.json() == listed[row_id], name
        else:
            assert response.status_code == 404, (name, response.text)
            assert response.json() == {"errors": {"detail": ["Not found."]}}


def test_one_row_by_id_takes_no_parameters_and_404s_unknown_ids(search, world):
    token = world["tokens"]["staff_a"]
    response = search.get(f"/search/v1/attempts/{world['attempts']['a_pa']}", token, {"ordering": "-score"})
    assert response.status_code == 400 and list(response.json()["errors"]) == ["ordering"]
    assert search.get("/search/v1/assessments/999999999999", token).status_code == 404
    report = search.ok(f"/search/v1/attempts/{world['attempts']['a_pa']}", token, None)
    assert report["score"] == 80 and report["rank"] == 1 and report["qualified"] is True
