"""Rank, percentile and qualified, computed when a list is read: attempt documents hold facts only.

Definitions (docs/SEARCH_API.md), over the submitted attempts of one assessment (its board):
- rank = 1 + the attempts ahead (higher score, or the same score in less time): 1, 2, 2, 4;
- percentile = c * 100 / n, c = the attempts with a strictly lower score, n = the board's size;
- qualified = score >= the assessment's current cut-off (read from its document, so a cut-off
  change writes one document, not one per attempt).

Everything here is pure: request bodies in, numbers out. selectors.py runs the requests.

Filters become exact thresholds on the keys the metrics derive from, per board:
- rank <= j  <=>  key <= y_j, the j-th key in rank order (score desc, time asc), duplicates
  included: at most j-1 keys are strictly ahead of it. So every rank lookup is "rank <= j" or its
  negation, and y_j is read with a sorted search at `from=j-1` (j < n; the attempts index allows
  a `from` up to its largest board, see shared/indexes.py).
- percentile: f(c) = c * 100 / n rises with c, so a bound on the percentile is a bound on c
  (found by bisection with the same float arithmetic), and c >= m <=> score > x_m, c <= M <=>
  score <= x_(M+1), where x_i is the i-th smallest score.
- qualified: score >= cut-off (true) or score < cut-off (false).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate, pairwise

from search_api.filtering import EXACT, Condition
from search_api.query_builder import NOT_DELETED

SUBMITTED = {"term": {"status": "submitted"}}
RANK_ORDER = (("score", "desc"), ("time_taken_seconds", "asc"))
SCORE_ORDER = (("score", "asc"),)
MATCH_ALL = {"match_all": {}}
MATCH_NONE = {"match_none": {}}
# Facts a row's metrics are computed from, fetched whatever the row schema returns.
SOURCE_FIELDS = ("assessment", "status", "score", "time_taken_seconds")
MAX_BOARDS = 1000  # assessments one metric filter or facet may span; beyond, the client narrows


@dataclass(frozen=True)
class Board:
    assessment_id: int
    size: int  # submitted attempts
    cut_off: float | None


@dataclass(frozen=True)
class Position:
    """The `index`-th (1-based) attempt of a board in an order: a threshold key to read."""

    assessment_id: int
    order: tuple[tuple[str, str], ...]
    index: int


def percentile(lower: int, size: int) -> float:
    return lower * 100 / size


# --- filters --------------------------------------------------------------------------------


def _first_true(size: int, predicate) -> int:
    """The smallest c in 0..size with predicate(c) (predicate monotone false -> true); size+1 if none."""
    return bisect_left(range(size + 1), True, key=predicate)


def _bounds(condition: Condition, size: int) -> list[tuple[str, int]]:
    """One condition on one board as ("rank_le" | "rank_gt" | "lower_ge" | "lower_le", j) terms.

    rank_le j: rank <= j; rank_gt j: rank > j; lower_ge m: c >= m; lower_le M: c <= M.
    """
    name, lookup, value = condition.filter.name, condition.lookup, condition.value
    if name == "rank":
        return {
            "lte": [("rank_le", value)],
            "lt": [("rank_le", value - 1)],
            "gte": [("rank_gt", value - 1)],
            "gt": [("rank_gt", value)],
            EXACT: [("rank_le", value), ("rank_gt", value - 1)],
        }[lookup]
    if name == "percentile":
        f = lambda c: percentile(c, size)  # noqa: E731
        if lookup == "gte":
            return [("lower_ge", _first_true(size, lambda c: f(c) >= value))]
        if lookup == "gt":
            return [("lower_ge", _first_true(size, lambda c: f(c) > value))]
        if lookup == "lte":
            return [("lower_le", _first_true(size, lambda c: f(c) > value) - 1)]
        return [("lower_le", _first_true(size, lambda c: f(c) >= value) - 1)]
    raise ValueError(f"not a threshold filter: {name}")


def positions_needed(conditions: tuple[Condition, ...], boards: list[Board]) -> set[Position]:
    """The threshold keys the metric filters need read, per board (none for trivial bounds)."""
    needed: set[Position] = set()
    for board in boards:
        for condition in conditions:
            if condition.filter.name == "qualified":
                continue
            for kind, j in _bounds(condition, board.size):
                position = _position(board, kind, j)
                if position is not None:
                    needed.add(position)
    return needed


def _position(board: Board, kind: str, j: int) -> Position | None:
    n = board.size
    if kind in ("rank_le", "rank_gt"):
        return Position(board.assessment_id, RANK_ORDER, j) if 1 <= j < n else None
    if kind == "lower_ge":
        return Position(board.assessment_id, SCORE_ORDER, j) if 1 <= j <= n - 1 else None
    return Position(board.assessment_id, SCORE_ORDER, j + 1) if 0 <= j < n - 1 else None  # lower_le


def position_search(position: Position) -> dict:
    return {
        "size": 1,
        "from": position.index - 1,
        "_source": False,
        "track_total_hits": False,
        "sort": [{f: {"order": o}} for f, o in position.order],
        "query": _board_query([position.assessment_id]),
    }


def _rank_at_most(key: list, negate: bool) -> dict:
    score, seconds = key
    clause = {
        "bool": {
            "should": [
                {"range": {"score": {"gt": score}}},
                {"bool": {"filter": [{"term": {"score": score}}, {"range": {"time_taken_seconds": {"lte": seconds}}}]}},
            ],
            "minimum_should_match": 1,
        }
    }
    return {"bool": {"must_not": [clause]}} if negate else clause


def _term_clause(board: Board, kind: str, j: int, keys: dict[Position, list]) -> dict:
    n = board.size
    position = _position(board, kind, j)
    if kind == "rank_le":
        return MATCH_NONE if j < 1 else MATCH_ALL if position is None else _rank_at_most(keys[position], False)
    if kind == "rank_gt":
        return MATCH_ALL if j < 1 else MATCH_NONE if position is None else _rank_at_most(keys[position], True)
    if kind == "lower_ge":  # c >= j <=> score > x_j
        return (
            MATCH_ALL if j <= 0 else MATCH_NONE if position is None else {"range": {"score": {"gt": keys[position][0]}}}
        )
    # lower_le: c <= j <=> score <= x_(j+1)
    return (
        MATCH_NONE
        if j < 0
        else MATCH_ALL
        if position is None or j >= n - 1
        else {"range": {"score": {"lte": keys[position][0]}}}
    )


def metric_filter(conditions: tuple[Condition, ...], boards: list[Board], keys: dict[Position, list]) -> dict:
    """One clause for every metric condition: the rows of some board that satisfy them all."""
    per_board = []
    for board in boards:
        clauses = []
        for condition in conditions:
            if condition.filter.name == "qualified":
                clauses.append(_qualified(board, condition.value))
            else:
                clauses += [_term_clause(board, kind, j, keys) for kind, j in _bounds(condition, board.size)]
        if MATCH_NONE in clauses:
            continue
        per_board.append(
            {
                "bool": {
                    "filter": [
                        {"term": {"assessment": board.assessment_id}},
                        SUBMITTED,
                        *(c for c in clauses if c != MATCH_ALL),
                    ]
                }
            }
        )
    return {"bool": {"should": per_board, "minimum_should_match": 1}} if per_board else MATCH_NONE


def _qualified(board: Board, qualified: bool) -> dict:
    if board.cut_off is None:
        return MATCH_NONE
    return {"range": {"score": {"gte" if qualified else "lt": board.cut_off}}}


def qualified_facet(boards: list[Board]) -> dict:
    """Counts of qualified true / false among the filtered rows (an unsubmitted row is neither)."""

    def side(qualified: bool) -> dict:
        clauses = [
            {"bool": {"filter": [{"term": {"assessment": b.assessment_id}}, SUBMITTED, _qualified(b, qualified)]}}
            for b in boards
            if b.cut_off is not None
        ]
        return {"bool": {"should": clauses, "minimum_should_match": 1}} if clauses else MATCH_NONE

    return {"filters": {"filters": [side(False), side(True)]}}


def qualified_buckets(aggregation: dict) -> list[dict]:
    """Like a terms facet: non-empty buckets, largest count first, false before true on a tie."""
    counts = [b.get("doc_count", 0) for b in aggregation.get("buckets", [])] or [0, 0]
    buckets = [{"value": value, "count": count} for value, count in zip((False, True), counts, strict=False) if count]
    return sorted(buckets, key=lambda b: -b["count"])


# --- boards: sizes and cut-offs ----------------------------------------------------------------


def _board_query(assessment_ids: list[int]) -> dict:
    return {"bool": {"filter": [NOT_DELETED, SUBMITTED, {"terms": {"assessment": assessment_ids}}]}}


def scope_assessments_search(query: dict) -> dict:
    """The assessments a filtered attempts list spans (MAX_BOARDS + 1 tells "too many")."""
    return {
        "size": 0,
        "query": query,
        "track_total_hits": False,
        "aggs": {"assessments": {"terms": {"field": "assessment", "size": MAX_BOARDS + 1}}},
    }


def board_sizes_search(assessment_ids: list[int]) -> dict:
    return {
        "size": 0,
        "query": _board_query(assessment_ids),
        "track_total_hits": False,
        "aggs": {"boards": {"terms": {"field": "assessment", "size": len(assessment_ids)}}},
    }


def cut_offs_search(assessment_ids: list[int]) -> dict:
    return {
        "size": len(assessment_ids),
        "_source": ["id", "cut_off"],
        "track_total_hits": False,
        "query": {"bool": {"filter": [NOT_DELETED, {"terms": {"id": assessment_ids}}]}},
    }


def cut_offs(response: dict) -> dict[int, float | None]:
    return {h["_source"]["id"]: h["_source"].get("cut_off") for h in response.get("hits", {}).get("hits", [])}


def boards(assessment_ids: list[int], sizes_response: dict, cut_offs_response: dict) -> list[Board]:
    sizes = {
        int(b["key"]): b["doc_count"]
        for b in sizes_response.get("aggregations", {}).get("boards", {}).get("buckets", [])
    }
    cuts = cut_offs(cut_offs_response)
    return [Board(a, sizes[a], cuts.get(a)) for a in assessment_ids if sizes.get(a)]


# --- the metrics of one page's rows ---------------------------------------------------------------


def _submitted(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r.get("status") == "submitted" and r.get("score") is not None]


def _by_board(rows: list[dict]) -> dict[int, list[dict]]:
    by_board: dict[int, list[dict]] = defaultdict(list)
    for row in _submitted(rows):
        by_board[row["assessment"]].append(row)
    return by_board


def _tie_name(score_index: int) -> str:
    return f"tie{score_index}"


def _split_at(field: str, bounds: list[float]) -> dict:
    """A range aggregation of disjoint buckets split at each bound (sorted, distinct): bucket i
    holds the documents in [bounds[i-1], bounds[i]). Each document lands in one bucket, so the
    cost is one pass, however many rows the page has."""
    ranges = [{"to": bounds[0]}, *({"from": a, "to": b} for a, b in pairwise(bounds)), {"from": bounds[-1]}]
    return {"range": {"field": field, "ranges": ranges}}


def _counts_below(aggregation: dict, bounds: list[float]) -> dict[float, int]:
    """Documents with a value < each bound, from a _split_at aggregation over `bounds` (one
    running sum per aggregation, not one sum per row: this runs for every row of every page)."""
    return dict(zip(bounds, accumulate(b["doc_count"] for b in aggregation["buckets"]), strict=False))


def _score_bounds(board_rows: list[dict]) -> list[float]:
    # Below s: the attempts with a lower score; from nextafter(s): those with a higher one.
    return sorted({b for r in board_rows for b in (r["score"], math.nextafter(r["score"], math.inf))})


def page_metrics_search(rows: list[dict]) -> dict | None:
    """One aggregation request for every submitted row of a page, whatever the page size.

    Per board: its size (the bucket's count), the attempts below and above each row's score (one
    range aggregation split at the page's scores), and per distinct score the attempts with that
    score in less time (a range aggregation on time, split at the page's times for that score).
    """
    by_board = _by_board(rows)
    if not by_board:
        return None
    aggs = {}
    for assessment_id, board_rows in by_board.items():
        sub = {"score": _split_at("score", _score_bounds(board_rows))}
        for i, score in enumerate(sorted({r["score"] for r in board_rows})):
            times = sorted({r["time_taken_seconds"] for r in board_rows if r["score"] == score})
            sub[_tie_name(i)] = {
                "filter": {"term": {"score": score}},
                "aggs": {"faster": _split_at("time_taken_seconds", times)},
            }
        aggs[str(assessment_id)] = {"filter": {"term": {"assessment": assessment_id}}, "aggs": sub}
    return {"size": 0, "track_total_hits": False, "query": _board_query(sorted(by_board)), "aggs": aggs}


def apply_page_metrics(rows: list[dict], response: dict | None, cuts: dict[int, float | None]) -> None:
    """Sets rank, percentile and qualified on every row (None for an unsubmitted one), in place."""
    aggregations = (response or {}).get("aggregations", {})
    for row in rows:
        row["rank"] = row["percentile"] = row["qualified"] = None
    for assessment_id, board_rows in _by_board(rows).items():
        board = aggregations[str(assessment_id)]
        below = _counts_below(board["score"], _score_bounds(board_rows))
        faster = {}  # per distinct score: attempts with that score in less time than each page time
        for i, score in enumerate(sorted({r["score"] for r in board_rows})):
            times = sorted({r["time_taken_seconds"] for r in board_rows if r["score"] == score})
            faster[score] = _counts_below(board[_tie_name(i)]["faster"], times)
        for row in board_rows:
            score = row["score"]
            higher = board["doc_count"] - below[math.nextafter(score, math.inf)]
            row["rank"] = 1 + higher + faster[score][row["time_taken_seconds"]]
            row["percentile"] = percentile(below[score], board["doc_count"])
            cut_off = cuts.get(assessment_id)
            row["qualified"] = None if cut_off is None else score >= cut_off
