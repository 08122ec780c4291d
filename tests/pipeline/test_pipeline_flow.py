"""A write becomes searchable; counters are exact; rollbacks emit nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from read_indexer.operations import pipeline_status
from tests.helpers import wait_until
from tests.pipeline.conftest import es_source, es_version
from write_service.assessments.models import Assessment
from write_service.discussions import services as discussions
from write_service.discussions.models import Post
from write_service.outbox.models import OutboxEvent
from write_service.read_model.projections import PROJECTIONS

FACTS = {
    "attempt_id",
    "assessment",
    "organisation",
    "candidate",
    "status",
    "score",
    "time_taken_seconds",
    "started_at",
    "submitted_at",
    "deleted",
    "content_hash",
}
ASSESSMENT = {
    "title": "Pipelines 101",
    "cut_off": "50",
    "max_score": "100",
    "duration_minutes": 30,
    "status": "published",
}


def test_submissions_reach_the_index_with_exact_counters(api, tenant):
    tenant.add_candidate()
    assessment_id = api.post("/api/v1/assessments", ASSESSMENT, token=tenant.staff_token).json()["id"]
    scores = ["40", "80", "65"]
    attempt_ids = []
    for token, score in zip(tenant.candidate_tokens, scores, strict=False):
        attempt_id = api.post(f"/api/v1/assessments/{assessment_id}/attempts", {}, token=token).json()["id"]
        assert api.post(f"/api/v1/attempts/{attempt_id}/submit", {"score": score}, token=token).status_code == 200
        attempt_ids.append(attempt_id)

    def converged():
        docs = [es_source("attempts", a) for a in attempt_ids]
        return docs if all(d and d["status"] == "submitted" for d in docs) else None

    docs = wait_until(converged, timeout=30, message="submitted attempt documents")
    # Facts of the attempt row only: rank, percentile and qualified are the search API's, at read time.
    assert all(set(d) == FACTS for d in docs), [sorted(d) for d in docs]
    assert sorted(d["score"] for d in docs) == [40.0, 65.0, 80.0]
    assert all(d["time_taken_seconds"] > 0 and d["assessment"] == assessment_id for d in docs)

    counted = wait_until(
        lambda: (doc := es_source("assessments", assessment_id)) and doc["submitted_count"] == 3 and doc,
        timeout=30,
        message="assessment counters in the index",
    )
    assert counted["attempts_count"] == 3
    row = Assessment.objects.get(pk=assessment_id)
    assert (row.attempts_count, row.submitted_count) == (3, 3)

    # A cut-off change writes the assessment document alone: attempt documents do not show it.
    pipeline_status.wait_until_idle()  # the counters batches' re-projections have landed
    docs, versions = [es_source("attempts", a) for a in attempt_ids], [es_version("attempts", a) for a in attempt_ids]
    assert (
        api.patch(f"/api/v1/assessments/{assessment_id}", {"cut_off": "70"}, token=tenant.staff_token).status_code
        == 200
    )
    wait_until(
        lambda: es_source("assessments", assessment_id)["cut_off"] == 70.0,
        timeout=30,
        message="the new cut-off in the assessment document",
    )
    pipeline_status.wait_until_idle()
    assert [es_version("attempts", a) for a in attempt_ids] == versions
    assert [es_source("attempts", a) for a in attempt_ids] == docs


def test_comments_counted_exactly_and_shown_on_the_post(api, tenant):
    post_id = api.post("/api/v1/posts", {"title": "Counting", "body": "b"}, token=tenant.staff_token).json()["id"]
    comment_ids = [
        api.post(f"/api/v1/posts/{post_id}/comments", {"body": f"c{i}"}, token=tenant.candidate_tokens[i % 2]).json()[
            "id"
        ]
        for i in range(7)
    ]
    assert api.delete(f"/api/v1/comments/{comment_ids[0]}", token=tenant.candidate_tokens[0]).status_code == 204
    doc = wait_until(
        lambda: (d := es_source("posts", post_id)) and d["comments_count"] == 6 and d,
        timeout=30,
        message="comments_count 6 in the index",
    )
    assert Post.objects.get(pk=post_id).comments_count == 6
    assert doc["author"]["id"] == tenant.staff.pk and "email" not in str(doc)


def test_a_rolled_back_write_emits_nothing(tenant):
    before = OutboxEvent.objects.count()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            post = discussions.post_create(actor=tenant.staff, title="never", body="committed")
            raise RuntimeError("client went away")
    assert OutboxEvent.objects.count() == before
    assert not Post.objects.filter(pk=post.pk).exists()
    # Nothing was published either: the id never shows up in the index.
    assert es_source("posts", post.pk) is None


def test_projection_matches_database_state(api, tenant):
    post_id = api.post(
        "/api/v1/posts", {"title": "Same", "body": "state", "tags": ["a", "b"]}, token=tenant.staff_token
    ).json()["id"]
    expected = PROJECTIONS["posts"].project([post_id])[0].source
    wait_until(lambda: es_source("posts", post_id) == expected, timeout=30, message="document equal to the projection")
