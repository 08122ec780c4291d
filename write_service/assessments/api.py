"""Write API of assessments and attempts. Thin: validate, call a service or selector, shape output."""

from decimal import Decimal

from rest_framework import serializers, status
from rest_framework.response import Response

from write_service.assessments import services
from write_service.assessments.models import Assessment, AssessmentStatus, Attempt, Difficulty
from write_service.platform.db_router import read_alias
from write_service.platform.errors import NotFound
from write_service.platform.idempotency import idempotent_post
from write_service.platform.serializers import StrictInputSerializer, TagListField
from write_service.platform.views import ApiView

SCORE = {"max_digits": 10, "decimal_places": 2, "min_value": Decimal("0"), "max_value": Decimal("99999999")}


class AssessmentInput(StrictInputSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=20000, allow_blank=True, required=False)
    tags = TagListField(required=False)
    difficulty = serializers.ChoiceField(choices=Difficulty.choices, required=False)
    status = serializers.ChoiceField(choices=AssessmentStatus.choices, required=False)
    cut_off = serializers.DecimalField(**SCORE)
    max_score = serializers.DecimalField(**SCORE)
    duration_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60)


def assessment_output(a: Assessment) -> dict:
    return {
        "id": a.pk,
        "organisation": a.organisation_id,
        "title": a.title,
        "description": a.description,
        "tags": a.tags,
        "difficulty": a.difficulty,
        "status": a.status,
        "cut_off": str(a.cut_off),
        "max_score": str(a.max_score),
        "duration_minutes": a.duration_minutes,
        "created_by": a.created_by_id,
        "attempts_count": a.attempts_count,
        "submitted_count": a.submitted_count,
        "created_at": a.created_at.isoformat(),
        "updated_at": a.updated_at.isoformat(),
    }


def attempt_output(a: Attempt) -> dict:
    return {
        "id": a.pk,
        "assessment": a.assessment_id,
        "candidate": a.candidate_id,
        "status": a.status,
        "started_at": a.started_at.isoformat(),
        "submitted_at": a.submitted_at.isoformat() if a.submitted_at else None,
        "score": str(a.score) if a.score is not None else None,
    }


class AssessmentListCreateView(ApiView):
    @idempotent_post
    def post(self, request):
        data = AssessmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        assessment = services.assessment_create(actor=request.user, **data.validated_data)
        return Response(assessment_output(assessment), status=status.HTTP_201_CREATED)


class AssessmentDetailView(ApiView):
    def get(self, request, assessment_id: int):
        # Staleness is harmless here (read-your-writes pins writers to the primary).
        assessment = Assessment.objects.using(read_alias()).filter(pk=assessment_id, deleted_at__isnull=True).first()
        visible = assessment is not None and (
            assessment.status == AssessmentStatus.PUBLISHED
            or (request.user.is_org_staff and assessment.organisation_id == request.user.organisation_id)
        )
        if not visible:
            raise NotFound("Assessment not found.")
        return Response(assessment_output(assessment))

    def patch(self, request, assessment_id: int):
        data = AssessmentInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        assessment = services.assessment_update(
            actor=request.user, assessment_id=assessment_id, changes=dict(data.validated_data)
        )
        return Response(assessment_output(assessment))

    def delete(self, request, assessment_id: int):
        services.assessment_delete(actor=request.user, assessment_id=assessment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttemptStartView(ApiView):
    @idempotent_post
    def post(self, request, assessment_id: int):
        StrictInputSerializer(data=request.data or {}).is_valid(raise_exception=True)
        attempt = services.attempt_start(actor=request.user, assessment_id=assessment_id)
        return Response(attempt_output(attempt), status=status.HTTP_201_CREATED)


class SubmitInput(StrictInputSerializer):
    score = serializers.DecimalField(**SCORE)


class AttemptSubmitView(ApiView):
    @idempotent_post
    def post(self, request, attempt_id: int):
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        attempt = services.attempt_submit(actor=request.user, attempt_id=attempt_id, score=data.validated_data["score"])
        return Response(attempt_output(attempt))
