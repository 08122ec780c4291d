"""Rank, percentile and qualified computed when read, against PostgreSQL's window functions.

Hypothesis draws leaderboards (ties in score, ties in score and time, unsubmitted attempts,
several assessments), then interleaves submissions and cut-off changes. After each step every
row the search API returns, in every ordering and under every rank / percentile / qualified
filter, must have the reference selector's metrics, and the lists must hold the same rows in
the same order. Rows are projected with the workers' own code (read_indexer), then refreshed.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from read_indexer.projection.documents import project_and_index
from tests.helpers import make_tenant
from tests.search_api.conftest import RotatingToken, refresh_indexes
from write_service.accounts.models import Role, User
from write_service.assessments.models import Assessment, Attempt
from write_service.assessments.selectors import attempts_with_metrics

SCORES = ["0", "40", "55", "55", "70", "100"]
SECONDS = [60, 60, 90, 300]
CUT_OFFS = ["0", "55", "70", "100.01"]
RUNS = settings(
    max_examples=int(os.environ.get("METRICS_TEST_EXAMPLES", "8")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
BASE = datetime(2025, 1, 1, tzinfo=UTC)

boards = st.lists(
    st.lists(
        st.tuples(st.integers(0, 4).map(lambda n: n > 0), st.sampled_from(SCORES), st.sampled_from(SECONDS)),
        min_size=1,
        max_size=9,
    ),
    min_size=1,
    max_size=3,
)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.integers(0, 50), st.sampled_from(SCORES), st.sampled_from(SECONDS)),
        st.tuples(st.just("cut_off"), st.integers(0, 2), st.sampled_from(CUT_OFFS)),
    ),
    min_size=1,
    max_size=3,
)


class World:
    """One organisation's assessments and attempts, kept in PostgreSQL and projected."""

    def __init__(self, board_facts: list[list[tuple[bool, str, int]]]):
        self.tenant = make_tenant(candidates=0)
        suffix = uuid.uuid4().hex[:8]
        size = max(map(len, board_facts))
        self.candidates = User.objects.bulk_create(
            [
                User(
                    username=f"m-{suffix}-{i}",
                    organisation=self.tenant.organisation,
                    role=Role.CANDIDATE,
                    display_name=f"C{i}",
                    password="!",
                )
                for i in range(size)
            ]
        )
        self.assessments = Assessment.objects.bulk_create(
            [
                Assessment(
                    organisation=self.tenant.organisation,
                    created_by=self.tenant.staff,
                    title=f"Board {i}",
                    cut_off=Decimal("55"),
                    max_score=Decimal("100"),
                    duration_minutes=30,
                    status="published",
                )
                for i in range(len(board_facts))
            ]
        )
        rows = []
        for assessment, facts in zip(self.assessments, board_facts, strict=True):
            for candidate, (submitted, score, seconds) in zip(self.candidates, facts, strict=False):
                started = BASE + timedelta(minutes=len(rows))
                rows.append(
                    Attempt(
                        assessment=assessment,
                        candidate=candidate,
                        started_at=started,
                        status="submitted" if submitted else "started",
                        score=Decimal(score) if submitted else None,
                        submitted_at=started + timedelta(seconds=seconds) if submitted else None,
                    )
                )
        self.attempts = Attempt.objects.bulk_create(rows)
        project_and_index("assessments", [a.pk for a in self.assessments])
        project_and_index("attempts", [a.pk for a in self.attempts])
        refresh_indexes()
        # One check sends hundreds of requests, faster than the rate limit allows one token on a
        # quick machine (a 429 was this test's one-off failure): a fresh token every 50 walks.
        self._tokens = RotatingToken(self.tenant.staff, uses=50)

    @property
    def token(self) -> str:
        return self._tokens.header()["Authorization"].removeprefix("Token ")

    def apply(self, step: tuple) -> None:
        if step[0] == "submit":
            started = [a for a in self.attempts if a.status == "started"]
            if not started:
                return
            attempt = started[step[1] % len(started)]
            attempt.status, attempt.score = "submitted", Decimal(step[2])
            attempt.submitted_at = attempt.started_at + timedelta(seconds=step[3])
            attempt.version += 1
            attempt.save(update_fields=["status", "score", "submitted_at", "version"])
            project_and_index("attempts", [attempt.pk])
        else:
            assessment = self.assessments[step[1] % len(self.assessments)]
            assessment.cut_off, assessment.version = Decimal(step[2]), assessment.version + 1
            assessment.save(update_fields=["cut_off", "version"])
            project_and_index("assessments", [assessment.pk])  # one document: no attempt is rewritten
        refresh_indexes()

    def reference(self) -> dict[int, dict]:
        return {r["attempt_id"]: r for r in attempts_with_metrics(assessment_ids=[a.pk for a in self.assessments])}


def _row_metrics(row: dict) -> tuple:
    return row["attempt_id"], row["rank"], row["percentile"], row["qualified"]


def _sorted_ids(rows: list[dict], ordering: str) -> list[int]:
    """The reference order: rank (score desc, time asc) and percentile (score asc), ties by id."""
    key = ordering.lstrip("-")
    metric = {"rank": "rank", "percentile": "percentile", "score": "score", "time_taken": "time_taken_seconds"}[key]
    present = [r for r in rows if r[metric] is not None]
    missing = [r for r in rows if r[metric] is None]
    present.sort(key=lambda r: r["attempt_id"])
    present.sort(key=lambda r: r[metric], reverse=ordering.startswith("-"))
    return [r["attempt_id"] for r in present + sorted(missing, key=lambda r: r["attempt_id"])]


def _filter_cases(reference: dict[int, dict]) -> list[dict[str, str]]:
    ranks = sorted({r["rank"] for r in reference.values() if r["rank"]})
    percentiles = sorted({r["percentile"] for r in reference.values() if r["percentile"] is not None})
    cases = [{"qualified": "true"}, {"qualified": "false"}]
    for rank in {0, 1, *ranks[:2], *ranks[-2:], max(ranks, default=0) + 1}:
        cases += [{f"rank{lookup}": str(rank)} for lookup in ("", "__lte", "__lt", "__gte", "__gt")]
    for value in {0.0, 50.0, 99.99, *percentiles[:2], *percentiles[-2:]}:
        cases += [{f"percentile__{lookup}": repr(value)} for lookup in ("lte", "lt", "gte", "gt")]
    cases.append({"rank__gte": "2", "percentile__lt": "80", "qualified": "true"})
    return cases


def _matches(row: dict, params: dict[str, str]) -> bool:
    for param, raw in params.items():
        name, _, lookup = param.partition("__")
        value = row[name]
        if value is None:
            return False
        target = {"qualified": lambda v: v == "true", "rank": int, "percentile": float}[name](raw)
        if not {
            "": value == target,
            "lte": value <= target,
            "lt": value < target,
            "gte": value >= target,
            "gt": value > target,
        }[lookup]:
            return False
    return True


def _check(search, world: World) -> None:
    reference = world.reference()
    for assessment in world.assessments:
        path = f"/search/v1/assessments/{assessment.pk}/leaderboard"
        board = [r for r in reference.values() if r["assessment_id"] == assessment.pk and r["status"] == "submitted"]
        for ordering in ("rank", "-rank", "percentile", "-percentile", "score", "time_taken"):
            rows = search.all_rows(path, world.token, {"ordering": ordering, "page_size": "4"})
            assert [r["attempt_id"] for r in rows] == _sorted_ids(board, ordering), ordering
            assert [_row_metrics(r) for r in rows] == [_row_metrics(reference[r["attempt_id"]]) for r in rows]
        for params in _filter_cases({r["attempt_id"]: r for r in board}):
            page = search.ok(path, world.token, {**params, "page_size": "100", "facets": "qualified"})
            want = [r for r in board if _matches(r, params)]
            assert [r["attempt_id"] for r in page["results"]] == _sorted_ids(want, "rank"), params
            assert [_row_metrics(r) for r in page["results"]] == [
                _row_metrics(r) for r in sorted(want, key=lambda r: (r["rank"], r["attempt_id"]))
            ]
            facet = {b["value"]: b["count"] for b in page["facets"]["qualified"]}
            assert facet == {v: n for v in (True, False) if (n := sum(r["qualified"] is v for r in want))}, params
    every = list(reference.values())
    for params in [{}, *_filter_cases(reference)]:
        rows = search.all_rows("/search/v1/attempts", world.token, {**params, "ordering": "score", "page_size": "7"})
        want = [r for r in every if _matches(r, params)]
        assert [r["attempt_id"] for r in rows] == _sorted_ids(want, "score"), params
        assert [_row_metrics(r) for r in rows] == [_row_metrics(reference[r["attempt_id"]]) for r in rows], params


@RUNS
@given(board_facts=boards, changes=steps)
def test_every_row_has_the_metrics_postgresql_computes(search, board_facts, changes):
    world = World(board_facts)
    _check(search, world)
    for step in changes:
        world.apply(step)
        _check(search, world)
