"""Whole-table walks (reindex, verify): attempts go by whole assessments, every row exactly once, in key order."""
from __future__ import annotations

from decimal import Decimal

from read_indexer.projections import PROJECTIONS
from write_service.assessments.models import Assessment, Attempt
from write_service.assessments.services import assessment_create, attempt_start, attempt_submit
from write_service.discussions.models import Post
from tests.helpers import make_tenant, wait_until


def _assessment_with_attempts(count: int) -> Assessment:
    tenant = make_tenant(candidates=count)
    assessment = assessment_create(actor=tenant.staff, title="walked", cut_off=Decimal(5), max_score=Decimal(10),
                                   duration_minutes=5, status="published")
    for i, candidate in enumerate(tenant.candidates):
        attempt = attempt_start(actor=candidate, assessment_id=assessment.pk)
        attempt_submit(actor=candidate, attempt_id=attempt.pk, score=Decimal(i % 10))
    return assessment


def test_attempt_pages_hold_whole_assessments_and_cover_every_attempt_once(pipeline):
    big = _assessment_with_attempts(6)
    # Pages are sized by the denormalised attempts_count, which the counters worker maintains.
    wait_until(lambda: Assessment.objects.get(pk=big.pk).attempts_count == 6, timeout=30, message="attempts_count")
    projection = PROJECTIONS["attempts"]
    pages = list(projection.walk_pages(after_key=0, batch_size=4))

    keys = [key for page in pages for key in page]
    assert keys == sorted(set(keys)), "assessment keys in order, none twice"
    assert set(keys) == set(Assessment.objects.values_list("id", flat=True))
    big_page = next(page for page in pages if big.pk in page)
    assert len(big_page) == 1, "an assessment larger than a page is a page of its own, never split"
    sizes = dict(Assessment.objects.values_list("id", "attempts_count"))
    assert all(sum(max(1, sizes[k]) for k in page) <= 4 for page in pages if len(page) > 1), "pages stay near batch_size"

    walked = [doc.id for page in pages for doc in projection.project_page(page)]
    assert sorted(walked) == sorted(Attempt.objects.values_list("id", flat=True)), "every attempt exactly once"
    by_id = {doc.id: doc for doc in projection.project_page(big_page)}
    for attempt_id in Attempt.objects.filter(assessment=big).values_list("id", flat=True):
        assert by_id[attempt_id] == projection.project([attempt_id])[0], "same document as the event path"

    assert projection.count_rows() == Attempt.objects.count()
    assert projection.count_rows(after_key=big.pk - 1) == Attempt.objects.filter(assessment_id__gte=big.pk).count()


def test_plain_projections_walk_their_own_ids():
    projection = PROJECTIONS["posts"]
    pages = list(projection.walk_pages(after_key=0, batch_size=500))
    assert all(len(page) <= 500 for page in pages)
    assert [key for page in pages for key in page] == list(Post.objects.order_by("id").values_list("id", flat=True))
    assert projection.walk_key_name == "id" and PROJECTIONS["attempts"].walk_key_name == "assessment id"
