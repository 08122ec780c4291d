"""`facet_mode=disjunctive` on every list with facets, against the brute-force model (bruteforce.py)
over the random data set: rows and count obey every filter; each facet's counts are a count per
value over the rows the same request returns without the filters on that facet's own field, and
never include a row the caller may not see (the model applies visibility; the data set holds
another organisation's rows with the same values).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search_api.filtering import CONJUNCTIVE, DISJUNCTIVE
from search_api.lists import ALL_LISTS
from tests.search_api import bruteforce as model
from tests.search_api.datasets import SEED
from tests.search_api.test_filters_bruteforce import HYPOTHESIS, Case, _params

FACETED = [schema.name for schema in ALL_LISTS if schema.facets]
MODE_PARAMS = ("facets", "facet_mode")


def _facets_counted(case: Case) -> list[str]:
    # Assessments are scoped to the data set's organisations by an organisation filter: the
    # organisation facet, counted without it, would count every organisation's published rows.
    return [name for name in case.schema.facets_by_name if not (case.scope and name == "organisation")]


def _on_field(case: Case, param: str, field: str) -> bool:
    found = case.schema.filter_params.get(param)
    return found is not None and found[0].field == field


def check_disjunctive(search, case: Case, params: dict[str, str]) -> dict[str, list[dict]]:
    """Checks one request; returns its facets."""
    params = {**case.scope, **params, "facet_mode": DISJUNCTIVE}
    filters = {k: v for k, v in params.items() if k not in MODE_PARAMS}
    want = model.expected(case.list_name, case.docs, case.viewer, filters)
    id_field = model.ID_FIELD[case.list_name]
    pages = list(search.walk(case.path, case.token, params))
    context = f"seed={SEED} list={case.list_name} params={params}"
    assert [row[id_field] for page in pages for row in page["results"]] == [d[id_field] for d in want], context
    assert {page["count"] for page in pages} == {len(want)}, context
    for name in params["facets"].split(","):
        field = case.schema.facets_by_name[name].field
        others = {k: v for k, v in filters.items() if not _on_field(case, k, field)}
        rows = model.expected(case.list_name, case.docs, case.viewer, others)
        got = {b["value"]: b["count"] for b in pages[0]["facets"][name]}
        assert got == model.facet_counts(rows, name), (context, name)
    return pages[0]["facets"]


@pytest.mark.parametrize("list_name", FACETED)
def test_disjunctive_facets_count_without_their_own_filters(search, dataset, list_name):
    case = Case(dataset, list_name)
    facets = _facets_counted(case)

    @HYPOTHESIS
    @given(params=_params(case), chosen=st.lists(st.sampled_from(facets), min_size=1, unique=True))
    def run(params, chosen):
        check_disjunctive(search, case, {**params, "facets": ",".join(chosen)})

    run()


@pytest.mark.parametrize("list_name", FACETED)
def test_each_facet_filtered_on_its_own_field(search, dataset, list_name):
    """Deterministic: each facet with a filter on its own field (the value of its largest bucket),
    so the disjunctive counts must show the values the filter excludes."""
    case = Case(dataset, list_name)
    for name in _facets_counted(case):
        page = search.ok(case.path, case.token, {**case.scope, "facets": name})
        buckets = page["facets"][name]
        assert buckets, (list_name, name)
        value = buckets[0]["value"]
        raw = str(value).lower() if isinstance(value, bool) else str(value)
        param = next(p for p, (f, lookup) in case.schema.filter_params.items() if f.name == name and lookup == "exact")
        facets = check_disjunctive(search, case, {param: raw, "facets": ",".join(_facets_counted(case))})
        # Its own filter is the only one: the facet counts as if unfiltered, other values included.
        assert facets[name] == buckets, (list_name, name)
        conjunctive = search.ok(
            case.path, case.token, {**case.scope, param: raw, "facets": name, "facet_mode": CONJUNCTIVE}
        )
        assert {b["value"]: b["count"] for b in conjunctive["facets"][name]}.get(value) == buckets[0]["count"]


def test_facet_mode_needs_facets_and_a_known_mode(search, dataset):
    case = Case(dataset, "posts")
    for params, message in (
        ({"facet_mode": DISJUNCTIVE}, "Needs facets="),
        ({"facet_mode": "both", "facets": "tags"}, "Must be one of: conjunctive, disjunctive."),
    ):
        response = search.get(case.path, case.token, params)
        assert response.status_code == 400 and message in response.json()["errors"]["facet_mode"][0]
    response = search.get("/search/v1/posts/1/comments", case.token, {"facet_mode": DISJUNCTIVE})
    assert response.status_code == 400 and "Unknown parameter" in response.json()["errors"]["facet_mode"][0]
