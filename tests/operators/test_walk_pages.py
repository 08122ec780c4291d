"""Whole-table walks (reindex, verify): every projection walks its own ids, every row exactly once, in key order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers import make_tenant
from write_service.assessments.models import Attempt
from write_service.assessments.services import assessment_create, attempt_start
from write_service.discussions.models import Post
from write_service.discussions.services import post_create
from write_service.read_model.projections import PROJECTIONS


@pytest.mark.parametrize(("index_name", "model"), [("attempts", Attempt), ("posts", Post)])
def test_walks_page_through_the_tables_own_ids(index_name, model):
    tenant = make_tenant(candidates=3)  # a few rows of each table exist, whatever ran before
    assessment = assessment_create(
        actor=tenant.staff,
        title="walked",
        cut_off=Decimal(5),
        max_score=Decimal(10),
        duration_minutes=5,
        status="published",
    )
    for candidate in tenant.candidates:
        attempt_start(actor=candidate, assessment_id=assessment.pk)
        post_create(actor=tenant.staff, title="walked", body="b")
    projection, size = PROJECTIONS[index_name], max(2, model.objects.count() // 5)  # several pages

    pages = list(projection.walk_pages(after_key=0, batch_size=size))
    assert len(pages) >= 2 and all(len(page) == size for page in pages[:-1]) and 1 <= len(pages[-1]) <= size
    walked = [key for page in pages for key in page]
    assert walked == list(model.objects.order_by("id").values_list("id", flat=True)), "own ids, in order, each once"
    middle = walked[len(walked) // 2]
    resumed = [key for page in projection.walk_pages(after_key=middle, batch_size=size) for key in page]
    assert resumed == [key for key in walked if key > middle], "a resumed walk starts right after its key"
    assert projection.count_rows(after_key=middle) == len(resumed) and projection.count_rows() == len(walked)
    assert sorted(doc.id for doc in projection.project(pages[-1])) == pages[-1]
