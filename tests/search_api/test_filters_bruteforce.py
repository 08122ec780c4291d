"""Every filter and ordering of every list against the brute-force model (bruteforce.py), over the
same random data: the same ids in the same order, across every page of a cursor walk, with
the same count and facet counts.

A deterministic sweep covers each parameter and ordering on its own; hypothesis then explores
combinations. The data seed is printed on failure (rerun with SEARCH_TEST_SEED=<seed>).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search_api.filtering import Choice, Integer
from search_api.lists import ALL_LISTS
from tests.search_api import bruteforce as model
from tests.search_api.conftest import fresh_token
from tests.search_api.datasets import SEED, WORDS, Dataset

SCHEMAS = {schema.name: schema for schema in ALL_LISTS}
HYPOTHESIS = settings(
    max_examples=int(os.environ.get("SEARCH_TEST_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Case:
    """One list as the dataset's staff member sees it: path, documents, scoping parameters."""

    def __init__(self, dataset: Dataset, list_name: str):
        self.list_name, self.schema = list_name, SCHEMAS[list_name]
        self.token = fresh_token(dataset.tenant.staff)
        self.viewer = {
            "user_id": dataset.tenant.staff.pk,
            "organisation_id": dataset.tenant.organisation.pk,
            "staff": True,
        }
        self.docs = dataset.docs["attempts" if list_name == "leaderboard" else list_name]
        self.scope: dict[str, str] = {}
        self.path = f"/search/v1/{list_name}"
        if list_name == "leaderboard":
            self.assessment_id = dataset.leaderboards[0]
            self.path = f"/search/v1/assessments/{self.assessment_id}/leaderboard"
            self.docs = [d for d in self.docs if d.get("assessment") == self.assessment_id]
        if list_name == "comments":
            self.path = f"/search/v1/posts/{dataset.commented_post}/comments"
            self.docs = [d for d in self.docs if d.get("post") == dataset.commented_post]
        if list_name == "assessments":
            # Published assessments of every organisation in the index are visible; stay in ours.
            self.scope = {"organisation__in": ",".join(map(str, dataset.organisations))}

    def check(self, search, params: dict[str, str]) -> None:
        params = {**self.scope, **params}
        want = model.expected(self.list_name, self.docs, self.viewer, params)
        id_field = model.ID_FIELD[self.list_name]
        pages = list(search.walk(self.path, self.token, params))
        rows = [row for page in pages for row in page["results"]]
        context = f"seed={SEED} list={self.list_name} params={params}"
        assert [row[id_field] for row in rows] == [d[id_field] for d in want], context
        if self.schema.index.name == "attempts":
            assert [_metrics(row) for row in rows] == [_metrics(d) for d in want], context
        assert {page["count"] for page in pages} == {len(want)}, context
        assert not any(page["count_is_lower_bound"] for page in pages)
        for name in params.get("facets", "").split(",") if "facets" in params else ():
            buckets = pages[0]["facets"][name]
            assert {b["value"]: b["count"] for b in buckets} == model.facet_counts(want, name), context
            assert [b["count"] for b in buckets] == sorted((b["count"] for b in buckets), reverse=True)


def _metrics(row: dict) -> tuple:
    """What the API computes when read, against PostgreSQL's window functions (datasets.py)."""
    return row["attempt_id"], row["rank"], row["percentile"], row["qualified"]


def _pool(case: Case, param: str) -> list:
    name = param.partition("__")[0]
    path, kind = model.FILTERS[case.list_name][name]
    values = {v for d in case.docs if not d.get("deleted") for v in model.doc_values(d, path, kind)}
    return sorted(values, key=repr)


def _value_strategy(case: Case, param: str) -> st.SearchStrategy[str]:
    filter_, lookup = case.schema.filter_params[param]
    kind = model.FILTERS[case.list_name][filter_.name][1]
    pool = _pool(case, param)
    if kind == "int":
        low = filter_.type.minimum if isinstance(filter_.type, Integer) else 0
        single = st.sampled_from(sorted({max(low, v + d) for v in pool for d in (-1, 0, 1)})).map(str)
    elif kind == "num":
        single = st.sampled_from(sorted({v + d for v in pool for d in (-0.5, 0, 0.5)})).map(repr)
    elif kind == "bool":
        single = st.sampled_from(["true", "false"])
    elif kind == "time":
        shifts = [timedelta(milliseconds=s) for s in (-1, 0, 0.5, 1)]
        single = st.builds(
            lambda t, shift, style: _format_time(t + shift, style),
            st.sampled_from(pool),
            st.sampled_from(shifts),
            st.sampled_from(["z", "offset", "naive", "date"]),
        )
    else:
        extra = list(filter_.type.choices) if isinstance(filter_.type, Choice) else ["nope"]
        single = st.sampled_from(sorted({*map(str, pool), *extra}))
    if lookup == "in":
        return st.lists(single, min_size=1, max_size=4).map(",".join)
    return single


def _format_time(value, style: str) -> str:
    if style == "date":
        return value.date().isoformat()
    if style == "naive":
        return value.replace(tzinfo=None).isoformat()
    if style == "offset":
        return value.astimezone(timezone(timedelta(hours=2))).isoformat()
    return value.isoformat().replace("+00:00", "Z")


def _raw(value) -> str:
    if isinstance(value, datetime):
        return _format_time(value, "z")
    return str(value).lower() if isinstance(value, bool) else str(value)


def _orderings(case: Case) -> list[str]:
    return [key for key in case.schema.orderings_by_key if key != "relevance"]


@st.composite
def _params(draw, case: Case) -> dict[str, str]:
    names = [p for p in case.schema.filter_params if p not in case.scope]
    params = {
        p: draw(_value_strategy(case, p)) for p in draw(st.lists(st.sampled_from(names), max_size=3, unique=True))
    }
    ordering = draw(
        st.none()
        | st.lists(st.sampled_from(_orderings(case)), min_size=1, max_size=2, unique_by=lambda k: k.lstrip("-"))
    )
    if case.schema.search_fields and draw(st.booleans()):
        params["q"] = " ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2)))
        ordering = ordering or [case.schema.default_ordering]  # relevance order is not brute-forced
    if ordering:
        params["ordering"] = ",".join(ordering)
    if case.schema.facets and draw(st.booleans()):
        params["facets"] = ",".join(
            draw(st.lists(st.sampled_from(list(case.schema.facets_by_name)), min_size=1, unique=True))
        )
    params["page_size"] = str(draw(st.sampled_from([4, 25, 100])))
    return params


@pytest.mark.fast
def test_every_filter_and_ordering_is_modelled():
    for schema in ALL_LISTS:
        assert {f.name for f in schema.filters} == set(model.FILTERS[schema.name]), schema.name
        assert {o.name for o in schema.orderings} - {"relevance"} == set(model.ORDERINGS[schema.name]), schema.name
        assert {f.name for f in schema.facets} == set(model.FACETS[schema.name]), schema.name
        assert schema.default_ordering == model.DEFAULT_ORDERING[schema.name]


@pytest.mark.parametrize("list_name", list(SCHEMAS))
def test_each_parameter_and_ordering_alone(search, dataset, list_name):
    case = Case(dataset, list_name)
    for param in case.schema.filter_params:
        if param in case.scope:
            continue
        pool = _pool(case, param)
        if param.endswith("__in"):
            value = ",".join(_raw(v) for v in pool[:2])
        else:
            value = _raw(pool[len(pool) // 2])
        case.check(search, {param: value, "page_size": "7"})
    facets = {"facets": ",".join(case.schema.facets_by_name)} if case.schema.facets else {}
    for key in _orderings(case):
        case.check(search, {"ordering": key, "page_size": "9", **facets})


@pytest.mark.parametrize("list_name", list(SCHEMAS))
def test_random_combinations(search, dataset, list_name):
    case = Case(dataset, list_name)

    @HYPOTHESIS
    @given(params=_params(case))
    def run(params):
        case.check(search, params)

    run()


def test_candidate_sees_only_own_attempts_with_every_ordering(search, dataset):
    token = dataset.tenant.candidate_tokens[0]
    viewer = {"user_id": dataset.candidate.pk, "organisation_id": dataset.tenant.organisation.pk, "staff": False}
    for key in model.ORDERINGS["attempts"]:
        for ordering in (key, f"-{key}"):
            want = model.expected("attempts", dataset.docs["attempts"], viewer, {"ordering": ordering})
            got = search.all_rows("/search/v1/attempts", token, {"ordering": ordering, "page_size": "1"})
            assert [r["attempt_id"] for r in got] == [d["attempt_id"] for d in want] and len(want) == 2
            # Ranks are over the whole leaderboard, not over the attempts the candidate may see.
            assert [_metrics(r) for r in got] == [_metrics(d) for d in want]
