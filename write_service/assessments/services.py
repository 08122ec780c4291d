"""Write use-cases of assessments and attempts. Each row they change is captured into the outbox in
the same transaction by its table's triggers (write_service/outbox/migrations/0002_capture_triggers.py)."""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from write_service.accounts.models import Role, User
from write_service.assessments.models import Assessment, AssessmentStatus, Attempt, AttemptStatus
from write_service.platform.errors import Conflict, Forbidden, NotFound, ServiceValidationError

EDITABLE_FIELDS = ("title", "description", "tags", "difficulty", "status", "cut_off", "max_score", "duration_minutes")


def _require_staff(actor: User) -> None:
    if not actor.is_org_staff:
        raise Forbidden("Only organisation staff can manage assessments.")


def _locked_assessment_of_actor_org(actor: User, assessment_id: int) -> Assessment:
    """Other organisations' assessments are a 404, not a 403: their existence must not leak."""
    assessment = (
        Assessment.objects.select_for_update()
        .filter(pk=assessment_id, organisation_id=actor.organisation_id, deleted_at__isnull=True)
        .first()
    )
    if assessment is None:
        raise NotFound("Assessment not found.")
    return assessment


def _check_scores(cut_off: Decimal, max_score: Decimal) -> None:
    if max_score <= 0:
        raise ServiceValidationError({"max_score": ["Must be greater than 0."]})
    if not (0 <= cut_off <= max_score):
        raise ServiceValidationError({"cut_off": ["Must be between 0 and max_score."]})


@transaction.atomic
def assessment_create(
    *,
    actor: User,
    title: str,
    cut_off: Decimal,
    max_score: Decimal,
    duration_minutes: int,
    description: str = "",
    tags: list[str] | None = None,
    difficulty: str = "medium",
    status: str = "draft",
) -> Assessment:
    _require_staff(actor)
    _check_scores(cut_off, max_score)
    assessment = Assessment.objects.create(
        organisation_id=actor.organisation_id,
        created_by_id=actor.pk,
        title=title,
        description=description,
        tags=sorted(set(tags or [])),
        difficulty=difficulty,
        status=status,
        cut_off=cut_off,
        max_score=max_score,
        duration_minutes=duration_minutes,
    )
    return assessment


@transaction.atomic
def assessment_update(*, actor: User, assessment_id: int, changes: dict) -> Assessment:
    _require_staff(actor)
    assessment = _locked_assessment_of_actor_org(actor, assessment_id)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ServiceValidationError({field: ["This field cannot be changed."] for field in sorted(unknown)})
    if "tags" in changes:
        changes["tags"] = sorted(set(changes["tags"]))
    changed = sorted(field for field, value in changes.items() if getattr(assessment, field) != value)
    if not changed:
        return assessment
    for field in changed:
        setattr(assessment, field, changes[field])
    _check_scores(assessment.cut_off, assessment.max_score)
    assessment.save(update_fields=[*changed, "updated_at"])
    return assessment


@transaction.atomic
def assessment_delete(*, actor: User, assessment_id: int) -> None:
    """A soft delete: the row stays as a versioned tombstone, so the index can never resurrect it."""
    _require_staff(actor)
    assessment = _locked_assessment_of_actor_org(actor, assessment_id)
    Assessment.objects.filter(pk=assessment.pk).update(deleted_at=timezone.now())


@transaction.atomic
def attempt_start(*, actor: User, assessment_id: int) -> Attempt:
    if actor.role != Role.CANDIDATE:
        raise Forbidden("Only candidates can attempt assessments.")
    assessment = Assessment.objects.filter(
        pk=assessment_id, status=AssessmentStatus.PUBLISHED, deleted_at__isnull=True
    ).first()
    if assessment is None:
        raise NotFound("Assessment not found or not open for attempts.")
    try:
        # No savepoint: on a duplicate the whole (outer) transaction is rolled back anyway.
        attempt = Attempt.objects.create(assessment=assessment, candidate_id=actor.pk, started_at=timezone.now())
    except IntegrityError:
        raise Conflict({"assessment": ["You already have an attempt at this assessment."]}) from None
    return attempt


@transaction.atomic
def attempt_submit(*, actor: User, attempt_id: int, score: Decimal) -> Attempt:
    attempt = (
        Attempt.objects.select_for_update()
        .select_related("assessment")
        .filter(pk=attempt_id, candidate_id=actor.pk)
        .first()
    )
    if attempt is None:
        raise NotFound("Attempt not found.")
    if attempt.status == AttemptStatus.SUBMITTED:
        raise Conflict({"attempt": ["This attempt was already submitted."]})
    if not (0 <= score <= attempt.assessment.max_score):
        raise ServiceValidationError({"score": [f"Must be between 0 and {attempt.assessment.max_score}."]})
    attempt.score = score
    attempt.submitted_at = timezone.now()
    attempt.status = AttemptStatus.SUBMITTED
    attempt.save(update_fields=["score", "submitted_at", "status"])
    return attempt
