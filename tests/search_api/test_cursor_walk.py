"""A cursor walk returns every row exactly once while writes land between pages.

Writes go through the write services and the real pipeline, and each page is fetched only
after they are searchable. On the leaderboard every better submission moves the rank (computed
when read) of rows already served, which is what a walk over `rank` must survive; on posts new rows and
comment activity land mid-walk.
"""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

from tests.helpers import make_tenant, wait_until
from tests.search_api.conftest import es_source, fresh_token, refresh_indexes
from write_service.assessments import services as assessments
from write_service.discussions import services as discussions


def _submit(tenant, assessment_id: int, score: str) -> int:
    candidate, _ = tenant.add_candidate()
    attempt = assessments.attempt_start(actor=candidate, assessment_id=assessment_id)
    assessments.attempt_submit(actor=candidate, attempt_id=attempt.pk, score=Decimal(score))
    return attempt.pk


def _submitted(attempt_ids: list[int]) -> bool:
    return all((d := es_source("attempts", a)) and d["status"] == "submitted" for a in attempt_ids)


def _rank_of(search, token: str, path: str, attempt_id: int) -> int:
    rows = search.all_rows(path, token, {"page_size": "100"})
    return next(r["rank"] for r in rows if r["attempt_id"] == attempt_id)


def _walk_while_writing(search, token, path, params, id_field, write_between_pages) -> list[int]:
    served: list[int] = []
    page = search.ok(path, token, params)
    for round_number in itertools.count():
        served.extend(row[id_field] for row in page["results"])
        if page["next"] is None:
            return served
        write_between_pages(round_number)
        page = search.ok(page["next"], token)


def test_leaderboard_walk_by_rank_while_submissions_move_ranks(search, pipeline):
    tenant = make_tenant(candidates=0)
    assessment = assessments.assessment_create(
        actor=tenant.staff,
        title="Walk",
        cut_off=Decimal(50),
        max_score=Decimal(100),
        duration_minutes=30,
        status="published",
    )
    scores = ["10", "20", "20", "30", "40", "50", "50", "60", "70", "80", "90", "95"]
    initial = [_submit(tenant, assessment.pk, s) for s in scores]
    wait_until(lambda: _submitted(initial), timeout=60, message="initial leaderboard indexed")
    refresh_indexes()
    landed: list[int] = []
    token = fresh_token(tenant.staff)
    path = f"/search/v1/assessments/{assessment.pk}/leaderboard"

    def submit_better_and_worse(round_number: int) -> None:
        # A perfect score moves every served row down one rank; a zero lands at the end.
        new = [_submit(tenant, assessment.pk, "100"), _submit(tenant, assessment.pk, "0")]
        landed.extend(new)
        wait_until(lambda: _submitted(new), timeout=60, message="new submissions indexed")
        refresh_indexes()
        perfect_scores_above = round_number + 1
        assert _rank_of(search, token, path, initial[-1]) == 1 + perfect_scores_above

    served = _walk_while_writing(search, token, path, {"page_size": "3"}, "attempt_id", submit_better_and_worse)

    counts = Counter(served)
    assert not [a for a, n in counts.items() if n > 1], f"served twice: {counts}"
    assert all(counts[a] == 1 for a in initial)
    assert landed, "no write landed during the walk"
    final = {r["attempt_id"]: r["rank"] for r in search.all_rows(path, token, {"page_size": "100"})}
    assert final[initial[-1]] > 1, "ranks did not move: the walk proved nothing"


def test_post_walk_while_posts_and_comments_land(search, pipeline):
    tenant = make_tenant(candidates=1)
    initial = [discussions.post_create(actor=tenant.staff, title=f"Post {i}", body="b").pk for i in range(10)]
    wait_until(lambda: all(es_source("posts", p) for p in initial), timeout=60, message="initial posts indexed")
    refresh_indexes()
    landed: list[int] = []

    def post_and_comment(round_number: int) -> None:
        landed.append(discussions.post_create(actor=tenant.candidates[0], title="Late", body="b").pk)
        discussions.comment_create(actor=tenant.staff, post_id=initial[round_number], body="c")
        wait_until(
            lambda: es_source("posts", landed[-1]) and es_source("posts", initial[round_number])["comments_count"] == 1,
            timeout=60,
            message="new post and comment indexed",
        )
        refresh_indexes()

    token = fresh_token(tenant.staff)
    served = _walk_while_writing(search, token, "/search/v1/posts", {"page_size": "3"}, "id", post_and_comment)
    counts = Counter(served)
    assert [p for p in initial if counts[p] != 1] == []
    assert max(counts.values()) == 1
    assert len(landed) >= 3
