"""Write use-cases of discussions: posts and comments. Counters are left to the pipeline."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from write_service.accounts.models import User
from write_service.assessments.models import Assessment
from write_service.discussions.models import Comment, Post
from write_service.platform.errors import Forbidden, NotFound, ServiceValidationError

EDITABLE_FIELDS = ("title", "body", "tags", "assessment_id")


def _visible_post_for_update(actor: User, post_id: int) -> Post:
    post = (
        Post.objects.select_for_update()
        .filter(pk=post_id, organisation_id=actor.organisation_id, deleted_at__isnull=True)
        .first()
    )
    if post is None:
        raise NotFound("Post not found.")
    return post


def _require_author_or_staff(actor: User, author_id: int) -> None:
    if actor.pk != author_id and not actor.is_org_staff:
        raise Forbidden("Only the author or organisation staff can change this.")


def _check_assessment(actor: User, assessment_id: int | None) -> None:
    if assessment_id is None:
        return
    if not Assessment.objects.filter(
        pk=assessment_id, organisation_id=actor.organisation_id, deleted_at__isnull=True
    ).exists():
        raise ServiceValidationError({"assessment": ["No such assessment in your organisation."]})


@transaction.atomic
def post_create(
    *, actor: User, title: str, body: str, tags: list[str] | None = None, assessment_id: int | None = None
) -> Post:
    if actor.organisation_id is None:
        raise Forbidden("Only members of an organisation can post.")
    _check_assessment(actor, assessment_id)
    post = Post.objects.create(
        organisation_id=actor.organisation_id,
        author_id=actor.pk,
        assessment_id=assessment_id,
        title=title,
        body=body,
        tags=sorted(set(tags or [])),
        last_activity_at=timezone.now(),
    )
    return post


@transaction.atomic
def post_update(*, actor: User, post_id: int, changes: dict) -> Post:
    post = _visible_post_for_update(actor, post_id)
    _require_author_or_staff(actor, post.author_id)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ServiceValidationError({field: ["This field cannot be changed."] for field in sorted(unknown)})
    if "assessment_id" in changes:
        _check_assessment(actor, changes["assessment_id"])
    if "tags" in changes:
        changes["tags"] = sorted(set(changes["tags"]))
    changed = sorted(field for field, value in changes.items() if getattr(post, field) != value)
    if not changed:
        return post
    for field in changed:
        setattr(post, field, changes[field])
    post.save(update_fields=[*changed, "updated_at"])
    return post


@transaction.atomic
def post_delete(*, actor: User, post_id: int) -> None:
    post = _visible_post_for_update(actor, post_id)
    _require_author_or_staff(actor, post.author_id)
    Post.objects.filter(pk=post.pk).update(deleted_at=timezone.now())


@transaction.atomic
def comment_create(*, actor: User, post_id: int, body: str) -> Comment:
    # No lock on the post row: a hot post takes thousands of comments; the pipeline counts them.
    post = Post.objects.filter(pk=post_id, organisation_id=actor.organisation_id, deleted_at__isnull=True).first()
    if post is None:
        raise NotFound("Post not found.")
    comment = Comment.objects.create(post_id=post.pk, author_id=actor.pk, body=body)
    if settings.NAIVE_COUNTER_UPDATES:  # the benchmark's baseline: what hand-rolled code does
        Post.objects.filter(pk=post.pk).update(comments_count=F("comments_count") + 1)
    return comment


@transaction.atomic
def comment_delete(*, actor: User, comment_id: int) -> None:
    comment = (
        Comment.objects.select_for_update()
        .select_related("post")
        .filter(pk=comment_id, post__organisation_id=actor.organisation_id, deleted_at__isnull=True)
        .first()
    )
    if comment is None:
        raise NotFound("Comment not found.")
    _require_author_or_staff(actor, comment.author_id)
    Comment.objects.filter(pk=comment.pk).update(deleted_at=timezone.now())
