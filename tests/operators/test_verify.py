"""`verify`: injected drift of each kind is detected, and `--repair` heals exactly it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connections

from read_indexer.operations import pipeline_status
from shared.es_client import get_es_client
from shared.indexes import ASSESSMENTS, POSTS
from tests.operators.support import beat_stopped, json_output, manage
from write_service.assessments.services import assessment_create
from write_service.discussions.services import post_create, post_update

NO_DRIFT = {"missing": [], "stale": [], "ahead": [], "orphan": []}


def _max_post_id() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT max(id) FROM discussions_post")
        return cursor.fetchone()[0]


@pytest.fixture
def no_drift_sweep(pipeline):
    with beat_stopped():
        yield


def test_verify_finds_missing_stale_and_orphan_documents_and_repair_heals_exactly_those(no_drift_sweep, tenant):
    posts = [post_create(actor=tenant.staff, title=f"drift {i}", body="body", tags=["drift"]) for i in range(3)]
    post_update(actor=tenant.staff, post_id=posts[1].pk, changes={"title": "an old title"})
    pipeline_status.wait_until_idle()
    baseline = manage("verify", "posts", "--repair", "--settle", "1")  # start from an index without drift
    assert baseline.returncode == 0, baseline.stdout[-2000:] + baseline.stderr[-2000:]

    es, alias = get_es_client(), POSTS.alias
    gone, stale, untouched = (str(post.pk) for post in posts)
    es.delete(index=alias, id=gone)
    before_edit = es.get(index=alias, id=stale)["_source"]
    post_update(actor=tenant.staff, post_id=int(stale), changes={"title": "drift 1"})
    pipeline_status.wait_until_idle()
    current = es.get(index=alias, id=stale)
    # The state before the edit (its content and its hash) at the current version: what a lost
    # update leaves behind.
    es.index(index=alias, id=stale, document=before_edit, version=current["_version"], version_type="external_gte")
    orphan = str(_max_post_id() + 1_000_000)
    es.index(
        index=alias,
        id=orphan,
        version=1,
        version_type="external",
        document={"id": int(orphan), "organisation": tenant.organisation.pk, "title": "ghost", "deleted": False},
    )
    es.indices.refresh(index=alias)
    untouched_before = es.get(index=alias, id=untouched)

    found = manage("verify", "posts", "--json", "--settle", "0")
    assert found.returncode == 1, found.stderr[-2000:]
    assert json_output(found)["indexes"][0]["drift"] == {
        "missing": [int(gone)],
        "stale": [int(stale)],
        "ahead": [],
        "orphan": [orphan],
    }
    assert f"Drift found in {POSTS.alias}" in found.stderr.splitlines()[-1] and "Traceback" not in found.stderr

    repaired = manage("verify", "posts", "--repair", "--json", "--settle", "0")
    assert repaired.returncode == 0, repaired.stdout[-2000:] + repaired.stderr[-2000:]
    report = json_output(repaired)["indexes"][0]
    assert report["repaired"] == {"missing": 1, "stale": 1, "orphan": 1}
    assert report["remaining"] == NO_DRIFT

    assert es.get(index=alias, id=gone)["_source"]["title"] == "drift 0"
    assert es.get(index=alias, id=stale)["_source"]["title"] == "drift 1"
    assert not es.exists(index=alias, id=orphan)
    untouched_after = es.get(index=alias, id=untouched)
    assert untouched_after["_seq_no"] == untouched_before["_seq_no"], "repair must touch only the drifted ids"

    clean = manage("verify", "posts", "--settle", "0")
    assert clean.returncode == 0 and "no drift" in clean.stdout


def test_a_document_ahead_of_the_database_is_reported_and_reindex_fixes_it(pipeline, tenant):
    assessment = assessment_create(
        actor=tenant.staff, title="from the future", cut_off=Decimal(1), max_score=Decimal(2), duration_minutes=5
    )
    pipeline_status.wait_until_idle()
    es, alias, doc_id = get_es_client(), ASSESSMENTS.alias, str(assessment.pk)
    current = es.get(index=alias, id=doc_id)
    es.index(
        index=alias,
        id=doc_id,
        version=current["_version"] + 100,
        version_type="external",
        document={**current["_source"], "title": "written by a restored backup"},
    )

    attempted = manage("verify", "assessments", "--repair", "--json", "--settle", "0")
    assert attempted.returncode == 1
    assert json_output(attempted)["indexes"][0]["remaining"]["ahead"] == [assessment.pk]
    assert "reindex" in attempted.stderr.splitlines()[-1]

    rebuilt = manage("reindex", "assessments")
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    pipeline_status.wait_until_idle()
    assert manage("verify", "assessments", "--settle", "1").returncode == 0
    assert es.get(index=alias, id=doc_id)["_source"]["title"] == "from the future"
