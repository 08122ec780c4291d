"""Pure checks of derived_metrics.py (no server): rank / percentile / qualified filters become key
thresholds that select exactly the attempts a brute-force count over the board selects, and the
page-metrics aggregation response turns into the brute-force rank and percentile.

The clauses are evaluated by a small interpreter of the only query shapes derived_metrics emits
(bool filter / should / must_not, term, range, terms, match_all / match_none); the live
equivalence with Elasticsearch is tests/search_api/test_read_time_metrics.py.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_api import derived_metrics as dm
from search_api.filtering import EXACT, Boolean, Condition, Filter, Integer, Number

pytestmark = pytest.mark.fast  # no server: bin/test --fast

RANK = Filter("rank", "rank", Integer(), (EXACT, "gte", "lte", "gt", "lt"), "", derived=True)
PERCENTILE = Filter("percentile", "percentile", Number(), ("gte", "lte", "gt", "lt"), "", derived=True)
QUALIFIED = Filter("qualified", "qualified", Boolean(), (EXACT,), "", derived=True)
A = 7  # the board's assessment id


def _evaluate(clause: dict, doc: dict) -> bool:
    ((kind, body),) = clause.items()
    if kind == "match_all":
        return True
    if kind == "match_none":
        return False
    if kind == "term":
        ((field, value),) = body.items()
        return doc[field] == value
    if kind == "terms":
        ((field, values),) = body.items()
        return doc[field] in values
    if kind == "range":
        ((field, bounds),) = body.items()
        ops = {
            "gt": lambda a, b: a > b,
            "gte": lambda a, b: a >= b,
            "lt": lambda a, b: a < b,
            "lte": lambda a, b: a <= b,
        }
        return all(ops[op](doc[field], bound) for op, bound in bounds.items())
    assert kind == "bool", kind
    ok = all(_evaluate(c, doc) for c in body.get("filter", []))
    ok = ok and not any(_evaluate(c, doc) for c in body.get("must_not", []))
    if "should" in body:
        ok = ok and sum(_evaluate(c, doc) for c in body["should"]) >= body.get("minimum_should_match", 1)
    return ok


def _brute(docs: list[dict]) -> dict[int, dict]:
    n = len(docs)
    out = {}
    for d in docs:
        ahead = sum(
            o["score"] > d["score"] or (o["score"] == d["score"] and o["time_taken_seconds"] < d["time_taken_seconds"])
            for o in docs
        )
        lower = sum(o["score"] < d["score"] for o in docs)
        out[d["id"]] = {"rank": 1 + ahead, "percentile": lower * 100 / n}
    return out


def _kth(docs: list[dict], position: dm.Position) -> list:
    keys = sorted(docs, key=lambda d: tuple(-d[f] if o == "desc" else d[f] for f, o in position.order))
    return [keys[position.index - 1][f] for f, _ in position.order]


boards = st.lists(
    st.tuples(
        st.sampled_from([0.0, 12.5, 55.0, 55.0, 70.0, 99.99, 100.0]), st.sampled_from([60.0, 60.0, 90.25, 300.0])
    ),
    min_size=1,
    max_size=25,
)
conditions = st.one_of(
    st.builds(
        lambda lookup, v: Condition(RANK, lookup, v),
        st.sampled_from([EXACT, "gte", "lte", "gt", "lt"]),
        st.integers(0, 30),
    ),
    st.builds(
        lambda lookup, v: Condition(PERCENTILE, lookup, v),
        st.sampled_from(["gte", "lte", "gt", "lt"]),
        st.one_of(
            st.sampled_from([0.0, 100.0, 50.0, 33.333333333333336, 33.33333333333333]),
            st.floats(-5, 105, allow_nan=False),
        ),
    ),
    st.builds(lambda v: Condition(QUALIFIED, EXACT, v), st.booleans()),
)


@settings(max_examples=400, deadline=None)
@given(board=boards, picked=st.lists(conditions, min_size=1, max_size=3), cut_off=st.sampled_from([0.0, 55.0, 100.01]))
def test_thresholds_select_exactly_what_brute_force_selects(board, picked, cut_off):
    docs = [
        {"id": i, "assessment": A, "status": "submitted", "deleted": False, "score": s, "time_taken_seconds": t}
        for i, (s, t) in enumerate(board)
    ]
    truth = _brute(docs)
    info = dm.Board(A, len(docs), cut_off)
    keys = {p: _kth(docs, p) for p in dm.positions_needed(tuple(picked), [info])}
    clause = dm.metric_filter(tuple(picked), [info], keys)

    def wanted(d: dict) -> bool:
        metrics = {**truth[d["id"]], "qualified": d["score"] >= cut_off}
        compare = {
            EXACT: lambda a, b: a == b,
            "gte": lambda a, b: a >= b,
            "lte": lambda a, b: a <= b,
            "gt": lambda a, b: a > b,
            "lt": lambda a, b: a < b,
        }
        return all(compare[c.lookup](metrics[c.filter.name], c.value) for c in picked)

    assert [d["id"] for d in docs if _evaluate(clause, d)] == [d["id"] for d in docs if wanted(d)]


def test_positions_never_read_past_the_board():
    info = dm.Board(A, 5, 50.0)
    for value in range(-1, 8):
        for lookup in (EXACT, "gte", "lte", "gt", "lt"):
            for p in dm.positions_needed((Condition(RANK, lookup, value),), [info]):
                assert 1 <= p.index < 5 and dm.position_search(p)["from"] == p.index - 1


def _aggregate(body: dict, docs: list[dict]) -> dict:
    """Elasticsearch's answer to page_metrics_search, computed over `docs` (the board)."""

    def ranges(agg: dict, subset: list[dict]) -> dict:
        field = agg["range"]["field"]
        return {
            "buckets": [
                {
                    "doc_count": sum(
                        ("from" not in r or d[field] >= r["from"]) and ("to" not in r or d[field] < r["to"])
                        for d in subset
                    )
                }
                for r in agg["range"]["ranges"]
            ]
        }

    out = {}
    for name, agg in body["aggs"].items():
        board = [d for d in docs if _evaluate(agg["filter"], d)]
        result = {"doc_count": len(board)}
        for sub_name, sub in agg["aggs"].items():
            if "range" in sub:
                result[sub_name] = ranges(sub, board)
            else:
                tied = [d for d in board if _evaluate(sub["filter"], d)]
                result[sub_name] = {"doc_count": len(tied), "faster": ranges(sub["aggs"]["faster"], tied)}
        out[name] = result
    return {"aggregations": out}


@settings(max_examples=200, deadline=None)
@given(board=boards, page=st.lists(st.integers(0, 24), min_size=1, max_size=10))
def test_page_metrics_match_brute_force(board, page):
    docs = [
        {"id": i, "assessment": A, "status": "submitted", "deleted": False, "score": s, "time_taken_seconds": t}
        for i, (s, t) in enumerate(board)
    ]
    rows = [dict(docs[i % len(docs)]) for i in page] + [
        {"id": -1, "assessment": A, "status": "started", "score": None, "time_taken_seconds": None}
    ]
    response = _aggregate(dm.page_metrics_search(rows), docs)
    dm.apply_page_metrics(rows, response, {A: 55.0})
    truth = _brute(docs)
    for row in rows[:-1]:
        assert (row["rank"], row["percentile"], row["qualified"]) == (
            truth[row["id"]]["rank"],
            truth[row["id"]]["percentile"],
            row["score"] >= 55.0,
        )
    assert (rows[-1]["rank"], rows[-1]["percentile"], rows[-1]["qualified"]) == (None, None, None)
    # One request, whatever the page: one board aggregation, at most one tie aggregation per distinct score.
    assert len(dm.page_metrics_search(rows)["aggs"]) == 1


def test_score_buckets_are_disjoint_and_split_at_the_score_and_the_next_double():
    body = dm.page_metrics_search([{"assessment": A, "status": "submitted", "score": 55.0, "time_taken_seconds": 1.0}])
    ranges = body["aggs"][str(A)]["aggs"]["score"]["range"]["ranges"]
    assert ranges == [
        {"to": 55.0},
        {"from": 55.0, "to": math.nextafter(55.0, math.inf)},
        {"from": math.nextafter(55.0, math.inf)},
    ]
