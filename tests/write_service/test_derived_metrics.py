"""The reference leaderboard (PostgreSQL window functions) vs a brute-force Python computation (ties included)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import make_tenant
from write_service.accounts.models import Role, User
from write_service.assessments.models import Assessment, Attempt
from write_service.assessments.selectors import attempts_with_metrics, leaderboard

# Few distinct scores and durations, so ties in score and in (score, time) are common.
attempt_spec = st.tuples(
    st.sampled_from([Decimal("0"), Decimal("10.5"), Decimal("50"), Decimal("60"), Decimal("99.99"), Decimal("100")]),
    st.sampled_from([30, 90, 600, 3600]),
    st.booleans(),  # submitted?
)


def brute_force(rows, cut_off: Decimal) -> dict[int, tuple]:
    submitted = [r for r in rows if r["submitted"]]
    out = {}
    for r in submitted:
        better = sum(1 for o in submitted if (o["score"], -o["seconds"]) > (r["score"], -r["seconds"]))
        lower = sum(1 for o in submitted if o["score"] < r["score"])
        out[r["id"]] = (better + 1, lower * 100 / len(submitted), r["score"] >= cut_off, float(r["seconds"]))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(attempt_spec, min_size=1, max_size=25),
    cut_off=st.sampled_from([Decimal("0"), Decimal("50"), Decimal("60"), Decimal("100")]),
)
def test_leaderboard_metrics_match_brute_force(specs, cut_off):
    tenant = make_tenant(candidates=0)
    assessment = Assessment.objects.create(
        organisation=tenant.organisation,
        created_by=tenant.staff,
        title="metrics",
        cut_off=cut_off,
        max_score=Decimal("100"),
        duration_minutes=60,
        status="published",
    )
    base = timezone.now() - timedelta(days=1)
    rows = []
    for i, (score, seconds, submitted) in enumerate(specs):
        candidate = User.objects.create(
            username=f"m-{uuid.uuid4().hex[:12]}", role=Role.CANDIDATE, organisation=tenant.organisation
        )
        attempt = Attempt.objects.create(
            assessment=assessment,
            candidate=candidate,
            started_at=base + timedelta(minutes=i),
            submitted_at=base + timedelta(minutes=i, seconds=seconds) if submitted else None,
            score=score if submitted else None,
            status="submitted" if submitted else "started",
        )
        rows.append({"id": attempt.pk, "score": score, "seconds": seconds, "submitted": submitted})

    expected = brute_force(rows, cut_off)
    board = leaderboard(assessment_id=assessment.pk)
    actual = {r["attempt_id"]: (r["rank"], r["percentile"], r["qualified"], r["time_taken_seconds"]) for r in board}
    assert actual == expected  # percentile bit-identical to Python's `c * 100 / n` (the search API's)
    # Rank order, then attempt id: the order the read side shows by default.
    assert [r["attempt_id"] for r in board] == sorted(expected, key=lambda i: (expected[i][0], i))
    started = {r["id"] for r in rows if not r["submitted"]}
    unranked = [r for r in attempts_with_metrics(assessment_ids=[assessment.pk]) if r["attempt_id"] in started]
    assert len(unranked) == len(started)
    assert all(r["rank"] is None and r["percentile"] is None and r["qualified"] is None for r in unranked)
