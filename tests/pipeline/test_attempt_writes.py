"""Attempt documents hold facts only: a submission writes its own attempt document (a constant
number of times, whatever the size of its leaderboard), and a cut-off change writes none.

Writes are read from Elasticsearch's own indexing stats of the attempts physical index, not from
our counters, and measured over an idle pipeline, so nothing else writes in between."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from read_indexer.lifecycle.index_lifecycle import alias_target
from read_indexer.operations import pipeline_status
from shared.es_client import get_es_client
from shared.indexes import ASSESSMENTS, ATTEMPTS
from tests.helpers import make_tenant, wait_until
from tests.pipeline.conftest import es_source
from write_service.accounts.models import Role, User
from write_service.assessments.models import Assessment, Attempt
from write_service.assessments.services import assessment_create, assessment_update, attempt_start, attempt_submit
from write_service.read_model.projections import PROJECTIONS

LEADERBOARD_SIZE = 3000
# The submission's own projection (a relay re-send may add one more).
MAX_ATTEMPT_WRITES = 2


def _writes(definition) -> int:
    index = alias_target(definition)
    stats = get_es_client().indices.stats(index=index, metric="indexing")
    return stats["indices"][index]["primaries"]["indexing"]["index_total"]


def _big_leaderboard(tenant) -> Assessment:
    """LEADERBOARD_SIZE submitted attempts, inserted in bulk (captured, counted and indexed like any write)."""
    assessment = assessment_create(
        actor=tenant.staff,
        title="big board",
        cut_off=Decimal(50),
        max_score=Decimal(100),
        duration_minutes=60,
        status="published",
    )
    suffix = uuid.uuid4().hex[:8]
    candidates = User.objects.bulk_create(
        [
            User(username=f"board-{suffix}-{i}", role=Role.CANDIDATE, organisation=tenant.organisation, password="!")
            for i in range(LEADERBOARD_SIZE)
        ]
    )
    started = timezone.now() - timedelta(hours=1)
    attempts = Attempt.objects.bulk_create(
        [
            Attempt(
                assessment=assessment,
                candidate=candidate,
                started_at=started,
                submitted_at=started + timedelta(seconds=60 + i % 600),
                score=Decimal(i % 101),
                status="submitted",
            )
            for i, candidate in enumerate(candidates)
        ]
    )
    wait_until(
        lambda: (
            (es_source("assessments", assessment.pk) or {}).get("submitted_count") == LEADERBOARD_SIZE
            and all(es_source("attempts", a.pk) for a in attempts[::300])
        ),
        timeout=60,
        message="the bulk insert counted and indexed",
    )
    return assessment


def test_a_submission_and_a_cut_off_change_write_no_other_attempt_document():
    tenant = make_tenant(candidates=1)
    assessment = _big_leaderboard(tenant)
    attempt = attempt_start(actor=tenant.candidates[0], assessment_id=assessment.pk)
    pipeline_status.wait_until_idle()
    attempts_before = _writes(ATTEMPTS)

    attempt_submit(actor=tenant.candidates[0], attempt_id=attempt.pk, score=Decimal(77))
    wait_until(
        lambda: (es_source("assessments", assessment.pk) or {}).get("submitted_count") == LEADERBOARD_SIZE + 1,
        timeout=30,
        message="the submission counted and indexed",
    )
    pipeline_status.wait_until_idle()
    assert es_source("attempts", attempt.pk) == PROJECTIONS["attempts"].project([attempt.pk])[0].source
    written = _writes(ATTEMPTS) - attempts_before
    assert 1 <= written <= MAX_ATTEMPT_WRITES, f"{written} attempt documents written for one submission"

    attempts_before, assessments_before = _writes(ATTEMPTS), _writes(ASSESSMENTS)
    assessment_update(actor=tenant.staff, assessment_id=assessment.pk, changes={"cut_off": Decimal(80)})
    wait_until(
        lambda: es_source("assessments", assessment.pk)["cut_off"] == 80.0,
        timeout=30,
        message="the new cut-off indexed",
    )
    pipeline_status.wait_until_idle()
    assert _writes(ASSESSMENTS) > assessments_before, "the assessment document was written (the stats do move)"
    assert _writes(ATTEMPTS) == attempts_before, "a cut-off change writes no attempt document"
