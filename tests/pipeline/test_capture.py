"""Change capture: writes that bypass the service functions reach the search API.

Each test writes rows behind the write service's back: a queryset update, bulk_create,
bulk_update, a queryset delete, raw SQL on a psycopg2 connection of its own, `psql -c`, a data
migration run by `migrate`. Nothing of ours publishes anything for them: the capture triggers
record the change and bump the row's version, the change listener (a real process, like the
workers) forwards the commit. A test then waits (wait_until, CAPTURE_TIMEOUT) until
- the Elasticsearch document equals `PROJECTIONS[index].project([id])`: the same source and a
  `_version` equal to the projected version (the sum of the row versions; an attempt document may
  be lower, see `_document_current`), a hard-deleted row a tombstone at HARD_DELETED_VERSION;
- the search API (real Gunicorn process, over HTTP) lists exactly the live rows, showing the
  projected values, and no longer lists a deleted one.
Counters (comments per post, attempts and submissions per assessment) are checked as soon as the
counters batch has claimed the test's own changes, against a COUNT(*) of the rows and the
explicit expected figure, before the beat's reconciliation could repair a wrong batch.

The data migration comes from a test-only app, tests/capture_migration (never in INSTALLED_APPS):
the test adds it with override_settings, names the rows and the new title in the setting its
RunPython reads when it runs (CAPTURE_MIGRATION_RETITLE), runs `migrate capture_migration`, and
always migrates it back to zero (also first, in case an interrupted run left it applied), so it
runs again next time and leaves no migration in the product's apps.

Every test has its own tenant (make_tenant), so tests cannot see each other's rows.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg2
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Max
from django.test import override_settings
from django.utils import timezone

from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from tests.helpers import Tenant, make_tenant, wait_until
from tests.search_api.conftest import SearchClient
from write_service.accounts.models import User
from write_service.assessments.models import Assessment, Attempt, AttemptStatus
from write_service.assessments.services import assessment_create
from write_service.discussions import services as discussions
from write_service.discussions.models import Comment, Post
from write_service.outbox.models import OutboxEvent
from write_service.read_model.projections import HARD_DELETED_VERSION, PROJECTIONS, ProjectedDocument

CAPTURE_TIMEOUT = 10.0
RELAY_SWEEPS_SECONDS = 5.0  # beat runs the outbox relay every 2 s; it re-sends what is unprocessed after 3 s
LIST_PATHS = {"posts": "/search/v1/posts", "assessments": "/search/v1/assessments", "attempts": "/search/v1/attempts"}
MIGRATION_APP = "capture_migration"


# --- reading back -------------------------------------------------------------------------------


def _es_document(index: str, doc_id: int) -> tuple[dict, int] | None:
    """(source, _version) of a document, in one realtime get, or None."""
    body = get_es_client().options(ignore_status=404).get(index=ALL_INDEXES[index].alias, id=str(doc_id)).body
    return (body["_source"], body["_version"]) if body.get("found") else None


def _document_current(index: str, projected: ProjectedDocument) -> bool:
    """Elasticsearch holds exactly the projection: the same source, at the projected version.

    A live attempt document's version may be lower with the same content: it sums the versions of
    the attempt, its candidate and its assessment, and a counters batch moves the assessment's
    without re-projecting its attempts (read_indexer/projection/drift.py: such a document is current).
    """
    found = _es_document(index, projected.id)
    if found is None or found[0] != projected.source:
        return False
    if index == "attempts" and not projected.source["deleted"]:
        return found[1] <= projected.version
    return found[1] == projected.version


def _reached(search: SearchClient, token: str, index: str, ids: list[int], params: dict) -> dict[int, dict] | None:
    """The search API's rows of `ids` (by row id) once every document is its projection and the
    list shows exactly the live ones with their projected values; None until then."""
    projected = {doc.id: doc for doc in PROJECTIONS[index].project(ids)}
    if not all(_document_current(index, doc) for doc in projected.values()):
        return None
    id_field = PROJECTIONS[index].id_field
    rows = {
        row[id_field]: row for row in search.all_rows(LIST_PATHS[index], token, params) if row[id_field] in projected
    }
    live = {row_id for row_id, doc in projected.items() if not doc.source["deleted"]}
    if set(rows) != live:
        return None
    for row_id, row in rows.items():
        source = projected[row_id].source
        if any(row[field] != source[field] for field in row if field in source):  # rank etc. are read-time
            return None
    return rows


def _wait_reached(
    search: SearchClient, token: str, index: str, ids: list[int], params: dict, what: str
) -> dict[int, dict]:
    found = wait_until(
        lambda: (rows := _reached(search, token, index, ids, params)) is not None and (rows,),
        timeout=CAPTURE_TIMEOUT,
        interval=0.2,
        message=f"{what}: documents as projected, listed by the search API",
    )
    return found[0]


def _post_rows(search: SearchClient, tenant: Tenant, post_ids: list[int], what: str) -> dict[int, dict]:
    return _wait_reached(search, tenant.staff_token, "posts", post_ids, {"id__in": ",".join(map(str, post_ids))}, what)


def _user_version(user: User) -> int:
    return User.objects.get(pk=user.pk).version


def _holds_for(predicate: Callable[[], bool], seconds: float, message: str) -> None:
    """The predicate stays true for the whole period (an absence cannot be waited for)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), message
        time.sleep(0.2)


# --- the change log -----------------------------------------------------------------------------


def _last_outbox_id() -> int:
    return OutboxEvent.objects.aggregate(last=Max("id"))["last"] or 0


def _changes(since: int, model, ids: list[int]):
    """Outbox rows recorded after `since` for these rows of `model`."""
    return OutboxEvent.objects.filter(id__gt=since, payload__table=model._meta.db_table, payload__id__in=ids)


def _wait_counted(since: int, model, ids: list[int]) -> None:
    """The capture recorded changes of these rows and the counters batch has claimed every one."""
    changes = _changes(since, model, ids)
    assert changes.exists(), f"no change of {model.__name__} {ids} recorded"
    wait_until(
        lambda: not changes.filter(counters_applied_at__isnull=True).exists(),
        timeout=CAPTURE_TIMEOUT,
        interval=0.1,
        message=f"the counters batch claiming the changes of {model.__name__} {ids}",
    )


# --- writing behind the service layer's back ----------------------------------------------------


def _primary():
    """A psycopg2 connection of its own straight to the primary (the default alias goes through pgBouncer)."""
    config = settings.CONFIG
    return psycopg2.connect(
        host=config.pg_host,
        port=config.pg_port,
        dbname=config.pg_db,
        user=config.pg_user,
        password=config.pg_password,
        application_name="test_capture",
    )


def _queryset_update(ids: list[int], title: str) -> None:
    assert Post.objects.filter(pk__in=ids).update(title=title) == len(ids)


def _bulk_update(ids: list[int], title: str) -> None:
    posts = list(Post.objects.filter(pk__in=ids))
    for post in posts:
        post.title = title
    assert Post.objects.bulk_update(posts, ["title"]) == len(ids)


def _raw_sql(ids: list[int], title: str) -> None:
    with closing(_primary()) as conn, conn, conn.cursor() as cursor:  # `with conn`: commit at the end
        cursor.execute("UPDATE discussions_post SET title = %s WHERE id = ANY(%s)", [title, ids])
        assert cursor.rowcount == len(ids)


def _psql(ids: list[int], title: str) -> None:
    config = settings.CONFIG
    sql = (
        f"UPDATE discussions_post SET title = '{title}' WHERE id IN ({', '.join(map(str, ids))})"  # hex and words only
    )
    result = subprocess.run(
        [
            "psql",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            config.pg_host,
            "-p",
            str(config.pg_port),
            "-U",
            config.pg_user,
            "-d",
            config.pg_db,
            "-c",
            sql,
        ],
        env={**os.environ, "PGPASSWORD": config.pg_password},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"UPDATE {len(ids)}", result.stdout


def _migration_applied() -> bool:
    return MigrationRecorder(connection).migration_qs.filter(app=MIGRATION_APP).exists()


def _data_migration(ids: list[int], title: str) -> None:
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.capture_migration.apps.CaptureMigrationConfig"],
        CAPTURE_MIGRATION_RETITLE={"ids": ids, "title": title},
    ):
        call_command("migrate", MIGRATION_APP, "zero", interactive=False, verbosity=0)  # an interrupted run's leftover
        try:
            call_command("migrate", MIGRATION_APP, interactive=False, verbosity=0)
            assert _migration_applied()
        finally:
            call_command("migrate", MIGRATION_APP, "zero", interactive=False, verbosity=0)
    assert not _migration_applied()


UPDATE_WRITERS = {
    "queryset update": _queryset_update,
    "bulk_update": _bulk_update,
    "raw SQL on its own connection": _raw_sql,
    "psql -c": _psql,
    "data migration run by migrate": _data_migration,
}


# --- set-ups through the service layer ----------------------------------------------------------


def _indexed_posts(search: SearchClient, tenant: Tenant, count: int) -> list[Post]:
    posts = [
        discussions.post_create(actor=tenant.staff, title=f"before {i}", body="body", tags=["capture"])
        for i in range(count)
    ]
    _post_rows(search, tenant, [p.pk for p in posts], "posts created through the service")
    return posts


def _live_comments(post_id: int) -> int:
    return Comment.objects.filter(post_id=post_id, deleted_at__isnull=True).count()


def _assert_comment_counts(
    search: SearchClient, tenant: Tenant, since: int, comment_ids: list[int], expected: dict[int, int]
) -> dict[int, dict]:
    """Once the changes of these comments are counted: each post's comments_count is the expected
    figure and its COUNT(*) of live comments, in the row, the document and the search API."""
    _wait_counted(since, Comment, comment_ids)
    actual = {post_id: (Post.objects.get(pk=post_id).comments_count, _live_comments(post_id)) for post_id in expected}
    assert actual == {post_id: (count, count) for post_id, count in expected.items()}, "(comments_count, live comments)"
    rows = _post_rows(search, tenant, list(expected), "posts with their new comments_count")
    assert {post_id: rows[post_id]["comments_count"] for post_id in expected} == expected
    return rows


def _post_with_comments(search: SearchClient, tenant: Tenant, count: int) -> tuple[Post, list[int]]:
    since = _last_outbox_id()
    post = discussions.post_create(actor=tenant.staff, title="commented", body="body")
    comment_ids = [
        discussions.comment_create(actor=tenant.staff, post_id=post.pk, body=f"c{i}").pk for i in range(count)
    ]
    if comment_ids:
        _assert_comment_counts(search, tenant, since, comment_ids, {post.pk: count})
    else:
        _post_rows(search, tenant, [post.pk], "a post without comments")
    return post, comment_ids


# --- posts: every kind of bypass write ----------------------------------------------------------


@pytest.mark.parametrize("write", UPDATE_WRITERS.values(), ids=UPDATE_WRITERS.keys())
def test_a_bypass_update_reaches_the_search_api_with_its_content_and_version(search, write):
    tenant = make_tenant(candidates=0)
    ids = [post.pk for post in _indexed_posts(search, tenant, 2)]
    versions = dict(Post.objects.filter(pk__in=ids).values_list("id", "version"))
    since, title = _last_outbox_id(), f"retitled {uuid.uuid4().hex[:10]}"

    write(ids, title)

    changes = _changes(since, Post, ids)
    assert sorted((c.payload["id"], c.payload["op"], c.event_type) for c in changes) == [
        (post_id, "update", "row.changed") for post_id in sorted(ids)
    ], "one captured change per row"
    assert dict(Post.objects.filter(pk__in=ids).values_list("id", "version")) == {i: versions[i] + 1 for i in ids}
    rows = _post_rows(search, tenant, ids, f"posts retitled by a {write.__name__}")
    assert {row["title"] for row in rows.values()} == {title}
    for post_id in ids:
        [projected] = PROJECTIONS["posts"].project([post_id])
        assert projected.version == versions[post_id] + 1 + _user_version(tenant.staff)
        assert _es_document("posts", post_id) == (projected.source, projected.version)


def test_bulk_created_posts_reach_the_search_api(search):
    tenant = make_tenant(candidates=0)
    suffix = uuid.uuid4().hex[:10]
    posts = Post.objects.bulk_create(
        [
            Post(
                organisation=tenant.organisation,
                author=tenant.staff,
                title=f"bulk {i} {suffix}",
                body="inserted in bulk",
                tags=["bulk"],
            )
            for i in range(3)
        ]
    )
    ids = [post.pk for post in posts]
    assert sorted(c.payload["op"] for c in _changes(0, Post, ids)) == ["insert"] * 3

    rows = _post_rows(search, tenant, ids, "bulk-created posts")
    assert {post_id: rows[post_id]["title"] for post_id in ids} == {post.pk: post.title for post in posts}
    assert all(
        rows[post_id]["comments_count"] == 0 and rows[post_id]["author"]["id"] == tenant.staff.pk for post_id in ids
    )
    for post_id in ids:
        assert _es_document("posts", post_id)[1] == 1 + _user_version(tenant.staff)


def test_a_queryset_delete_unlists_the_post_and_leaves_a_tombstone(search):
    tenant = make_tenant(candidates=0)
    kept, gone = _indexed_posts(search, tenant, 2)

    assert Post.objects.filter(pk=gone.pk).delete()[0] == 1

    rows = _post_rows(search, tenant, [kept.pk, gone.pk], "the hard-deleted post's tombstone")
    assert set(rows) == {kept.pk}, "the deleted post is no longer listed, the other one still is"
    assert _es_document("posts", gone.pk) == ({"id": gone.pk, "deleted": True}, HARD_DELETED_VERSION)
    assert search.ok(LIST_PATHS["posts"], tenant.staff_token, {"id": str(gone.pk)})["results"] == []


# --- attempts: counters from bypass writes ------------------------------------------------------


def test_bypass_writes_of_attempts_keep_the_assessment_counters_exact(search):
    tenant = make_tenant(candidates=3)
    assessment = assessment_create(
        actor=tenant.staff,
        title="bypassed",
        cut_off=Decimal(50),
        max_score=Decimal(100),
        duration_minutes=30,
        status="published",
    )
    assessment_params = {"id": str(assessment.pk)}
    _wait_reached(search, tenant.staff_token, "assessments", [assessment.pk], assessment_params, "the new assessment")
    since, started = _last_outbox_id(), timezone.now() - timedelta(minutes=10)

    attempts = Attempt.objects.bulk_create(
        [Attempt(assessment=assessment, candidate=candidate, started_at=started) for candidate in tenant.candidates]
    )
    ids = [attempt.pk for attempt in attempts]
    submitted, deleted = ids[:2], ids[1]
    assert (
        Attempt.objects.filter(pk__in=submitted).update(
            status=AttemptStatus.SUBMITTED, score=Decimal(70), submitted_at=started + timedelta(minutes=5)
        )
        == 2
    )
    assert Attempt.objects.filter(pk=deleted).delete()[0] == 1

    _wait_counted(since, Attempt, ids)
    row = Assessment.objects.get(pk=assessment.pk)
    recount = (
        Attempt.objects.filter(assessment=assessment).count(),
        Attempt.objects.filter(assessment=assessment, status=AttemptStatus.SUBMITTED).count(),
    )
    assert (row.attempts_count, row.submitted_count) == recount == (2, 1)
    [listed] = _wait_reached(
        search, tenant.staff_token, "assessments", [assessment.pk], assessment_params, "the assessment's counters"
    ).values()
    assert (listed["attempts_count"], listed["submitted_count"]) == (2, 1)

    attempt_rows = _wait_reached(
        search,
        tenant.staff_token,
        "attempts",
        ids,
        {"assessment": str(assessment.pk)},
        "attempts inserted, submitted and deleted in bulk",
    )
    assert {attempt_id: row["status"] for attempt_id, row in attempt_rows.items()} == {
        ids[0]: "submitted",
        ids[2]: "started",
    }
    assert attempt_rows[ids[0]]["score"] == 70.0 and attempt_rows[ids[0]]["time_taken_seconds"] == 300.0
    assert _es_document("attempts", deleted) == ({"attempt_id": deleted, "deleted": True}, HARD_DELETED_VERSION)


# --- comments: counters from bypass writes ------------------------------------------------------


def test_a_comment_inserted_by_raw_sql_is_counted_and_moves_the_last_activity(search):
    tenant = make_tenant(candidates=0)
    post, _comments = _post_with_comments(search, tenant, 2)
    since = _last_outbox_id()

    with closing(_primary()) as conn, conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO discussions_comment (post_id, author_id, body, created_at, version) "
            "VALUES (%s, %s, 'typed in SQL', clock_timestamp(), 1) RETURNING id, created_at",
            [post.pk, tenant.staff.pk],
        )
        comment_id, created_at = cursor.fetchone()

    rows = _assert_comment_counts(search, tenant, since, [comment_id], {post.pk: 3})
    assert Post.objects.get(pk=post.pk).last_activity_at == created_at
    assert datetime.fromisoformat(rows[post.pk]["last_activity_at"]) == created_at


def test_a_bulk_delete_of_comments_is_counted_exactly(search):
    tenant = make_tenant(candidates=0)
    post, comment_ids = _post_with_comments(search, tenant, 4)
    other, _other_comments = _post_with_comments(search, tenant, 1)
    since = _last_outbox_id()
    discussions.comment_delete(actor=tenant.staff, comment_id=comment_ids[0])  # soft-deleted, then deleted again below
    _assert_comment_counts(search, tenant, since, comment_ids[:1], {post.pk: 3})
    since = _last_outbox_id()

    assert Comment.objects.filter(post_id=post.pk).delete()[0] == 4

    rows = _assert_comment_counts(search, tenant, since, comment_ids, {post.pk: 0, other.pk: 1})
    assert datetime.fromisoformat(rows[post.pk]["last_activity_at"]) == Post.objects.get(pk=post.pk).created_at


def test_a_comment_moved_to_another_post_moves_its_count(search):
    tenant = make_tenant(candidates=0)
    source, comment_ids = _post_with_comments(search, tenant, 3)
    target, _target_comments = _post_with_comments(search, tenant, 1)
    since = _last_outbox_id()
    discussions.comment_delete(actor=tenant.staff, comment_id=comment_ids[2])  # a deleted comment counts nowhere
    _assert_comment_counts(search, tenant, since, comment_ids[2:], {source.pk: 2, target.pk: 1})
    since = _last_outbox_id()

    assert Comment.objects.filter(pk__in=comment_ids[1:]).update(post_id=target.pk) == 2

    _assert_comment_counts(search, tenant, since, comment_ids[1:], {source.pk: 1, target.pk: 2})


def test_a_soft_delete_and_an_undelete_by_queryset_update_are_counted(search):
    tenant = make_tenant(candidates=0)
    post, comment_ids = _post_with_comments(search, tenant, 3)
    since = _last_outbox_id()
    discussions.comment_delete(actor=tenant.staff, comment_id=comment_ids[1])
    _assert_comment_counts(search, tenant, since, comment_ids[1:2], {post.pk: 2})
    since = _last_outbox_id()

    # comment 1 is deleted already: deleting it again (a new deleted_at) must not count it twice.
    assert Comment.objects.filter(pk__in=comment_ids[:2]).update(deleted_at=timezone.now()) == 2
    _assert_comment_counts(search, tenant, since, comment_ids[:2], {post.pk: 1})
    since = _last_outbox_id()

    assert Comment.objects.filter(pk__in=comment_ids[:2]).update(deleted_at=None) == 2
    _assert_comment_counts(search, tenant, since, comment_ids[:2], {post.pk: 3})


# --- a rolled-back bypass write ------------------------------------------------------------------


def test_rolled_back_bypass_writes_emit_nothing(search):
    tenant = make_tenant(candidates=0)
    post, marker = _indexed_posts(search, tenant, 2)
    document, version, since = _es_document("posts", post.pk), Post.objects.get(pk=post.pk).version, _last_outbox_id()

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            Post.objects.filter(pk=post.pk).update(title="rolled back (queryset)")
            ghosts = Post.objects.bulk_create(
                [
                    Post(
                        organisation=tenant.organisation,
                        author=tenant.staff,
                        title="rolled back (bulk_create)",
                        body="never committed",
                    )
                ]
            )
            raise RuntimeError("the client went away")
    ghost_ids = [ghost.pk for ghost in ghosts]
    with closing(_primary()) as conn, conn.cursor() as cursor:
        cursor.execute("UPDATE discussions_post SET title = 'rolled back (raw SQL)' WHERE id = %s", [post.pk])
        conn.rollback()
    # A committed write after the rollbacks: once it is searchable, the listener and the workers
    # have had every notification the rolled-back writes could have sent.
    _queryset_update([marker.pk], "committed after the rollbacks")
    _post_rows(search, tenant, [marker.pk], "the write committed after the rollbacks")

    def nothing_emitted() -> bool:
        return (
            not _changes(since, Post, [post.pk, *ghost_ids]).exists()
            and _es_document("posts", post.pk) == document
            and all(_es_document("posts", ghost_id) is None for ghost_id in ghost_ids)
        )

    _holds_for(nothing_emitted, RELAY_SWEEPS_SECONDS, "a rolled-back write recorded a change or moved a document")
    assert Post.objects.get(pk=post.pk).version == version, "the version bump rolled back with the write"
    rows = _post_rows(search, tenant, [post.pk], "the untouched post")
    assert rows[post.pk]["title"] == post.title
    listed = search.ok(LIST_PATHS["posts"], tenant.staff_token, {"id__in": ",".join(map(str, ghost_ids))})["results"]
    assert listed == [], "a rolled-back insert is not searchable"
