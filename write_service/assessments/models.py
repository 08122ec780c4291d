"""Assessments and attempts. Counter columns are written only by the event pipeline."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from write_service.accounts.models import Organisation
from write_service.platform.models import VersionedModel


class Difficulty(models.TextChoices):
    EASY = "easy"
    MEDIUM = "medium"
    HARD = "hard"


class AssessmentStatus(models.TextChoices):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class Assessment(VersionedModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="assessments")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    difficulty = models.CharField(max_length=8, choices=Difficulty.choices, default=Difficulty.MEDIUM)
    status = models.CharField(max_length=10, choices=AssessmentStatus.choices, default=AssessmentStatus.DRAFT)
    cut_off = models.DecimalField(max_digits=10, decimal_places=2)
    max_score = models.DecimalField(max_digits=10, decimal_places=2)
    duration_minutes = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Denormalised by write_service.read_model.counters only.
    attempts_count = models.BigIntegerField(default=0)
    submitted_count = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["organisation", "status", "-created_at"], name="assessment_org_status_created"),
            models.Index(fields=["status", "-created_at"], name="assessment_status_created"),
            models.Index(fields=["-attempts_count"], name="assessment_attempts_count"),
            GinIndex(fields=["tags"], name="assessment_tags_gin"),
        ]


class AttemptStatus(models.TextChoices):
    STARTED = "started"
    SUBMITTED = "submitted"


class Attempt(VersionedModel):
    """One attempt per candidate and assessment keeps leaderboards and percentiles unambiguous."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="attempts")
    candidate = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attempts")
    started_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    score = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    status = models.CharField(max_length=10, choices=AttemptStatus.choices, default=AttemptStatus.STARTED)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assessment", "candidate"], name="attempt_one_per_candidate"),
        ]
        indexes = [
            models.Index(fields=["assessment", "status", "-score"], name="attempt_board"),
            models.Index(fields=["assessment", "submitted_at"], name="attempt_assessment_submitted"),
            models.Index(fields=["candidate", "-started_at"], name="attempt_candidate_started"),
        ]
