"""The leaderboard and attempts lists the classic way: DRF list views over the Django ORM.

This is what the search API is measured against (bench comparison 1), so it is the strongest ORM
version we could write without precomputing anything:
- reads from the streaming replica (write_service's read_alias(); persistent replica connections),
  token auth from the same Redis cache as the search API (no SQL for auth);
- page-number pagination with COUNT (DRF PageNumberPagination: one COUNT(*) of the filtered rows
  without the metric annotations and their joins, one page query), plus one visibility query for
  the leaderboard's assessment;
- the derived metrics are computed for the shown rows only, as correlated scalar subqueries that
  PostgreSQL evaluates after the sort and LIMIT; each is an index range count over the
  write side's attempt_board index (assessment, status, -score):
      rank       = 1 + #(score > s) + #(score = s and time_taken < t)     (RANK() semantics)
      percentile = (submitted_count - #(score >= s)) * 100 / submitted_count
  submitted_count is the assessment's denormalised counter (a system with synchronous counters
  keeps it too); a window over the whole assessment per request would be far slower;
- orderings that can never meet NULLs (lists restricted to submitted attempts) sort without
  NULLS LAST so PostgreSQL can walk the index; the seeding adds bench_orm_attempt_status_submitted
  (status, submitted_at DESC, id) for the attempts list's newest-first ordering; VACUUM ANALYZE
  after the load makes the COUNTs index-only.
Filters follow django-filter conventions (field, field__in, __gte, __lte, __gt, __lt) for the
fields below; unknown parameters are a 400, like the search API. rank and percentile filters are
not offered (they would need the metric for every row, not just the page).
"""

from __future__ import annotations

import functools
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.core.paginator import Paginator
from django.db.models import (
    BooleanField,
    Case,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils.dateparse import parse_datetime
from django.utils.functional import cached_property
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import ListAPIView
from rest_framework.pagination import PageNumberPagination

from write_service.accounts.models import Role
from write_service.assessments.models import Assessment, AssessmentStatus, Attempt, AttemptStatus
from write_service.platform.db_router import read_alias

SUBMITTED = AttemptStatus.SUBMITTED
TIME_TAKEN = ExpressionWrapper(F("submitted_at") - F("started_at"), output_field=DurationField())
RANGE = ("gte", "lte", "gt", "lt")


class CountingPaginator(Paginator):
    """Counts a lighter queryset than it pages: the filtered rows, without the metric annotations
    and their joins (the user join alone costs a join per matching row)."""

    def __init__(self, object_list, per_page, *, count_queryset=None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.count_queryset = count_queryset

    @cached_property
    def count(self) -> int:
        return (self.count_queryset if self.count_queryset is not None else self.object_list).count()


class Page20(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        self.django_paginator_class = functools.partial(
            CountingPaginator, count_queryset=getattr(view, "count_queryset", None)
        )
        return super().paginate_queryset(queryset, request, view)


# Filters (django-filter conventions) -------------------------------------------------------------


def _integer(raw: str) -> int:
    return int(raw)


def _number(raw: str) -> Decimal:
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ValueError(raw) from None


def _datetime(raw: str):
    value = parse_datetime(raw)
    if value is None:
        raise ValueError(raw)
    return value


def _seconds(raw: str) -> timedelta:
    return timedelta(seconds=float(raw))


def _boolean(raw: str) -> bool:
    if raw.lower() not in ("true", "false"):
        raise ValueError(raw)
    return raw.lower() == "true"


# param -> (ORM path, parser, lookups); "" is exact, "in" takes a comma-separated list.
LEADERBOARD_FILTERS = {
    "candidate": ("candidate_id", _integer, ("", "in")),
    "score": ("score", _number, RANGE),
    "time_taken": ("time_taken", _seconds, RANGE),
    "submitted_at": ("submitted_at", _datetime, RANGE),
    "qualified": ("qualified", _boolean, ("",)),
}
ATTEMPT_FILTERS = {
    **LEADERBOARD_FILTERS,
    "assessment": ("assessment_id", _integer, ("", "in")),
    "status": ("status", str, ("", "in")),
    "started_at": ("started_at", _datetime, RANGE),
}
RESERVED = ("page", "page_size", "ordering")


def _condition(path: str, lookup: str, value) -> Q:
    if path == "qualified":  # score >= the assessment's current cut-off; NULL (not submitted) matches neither
        qualified = Q(status=SUBMITTED, score__gte=F("assessment__cut_off"))
        return qualified if value else Q(status=SUBMITTED, score__lt=F("assessment__cut_off"))
    return Q(**{f"{path}__{lookup}" if lookup else path: value})


def parse_filters(params, filters: dict) -> tuple[Q, bool]:
    """(conditions, whether they imply submitted attempts only), or a 400 naming each bad parameter."""
    errors: dict[str, list[str]] = {}
    where = Q()
    only_submitted = False
    for name, raw in params.items():
        if name in RESERVED:
            continue
        base, _, lookup = name.partition("__")
        spec = filters.get(base)
        if spec is None or lookup not in spec[2]:
            allowed = [f"{f}__{lk}" if lk else f for f, s in filters.items() for lk in s[2]]
            errors[name] = [f"Unknown parameter. Allowed: {', '.join([*allowed, *RESERVED])}."]
            continue
        path, parse, _lookups = spec
        try:
            value = [parse(v) for v in raw.split(",")] if lookup == "in" else parse(raw)
        except ValueError:
            errors[name] = ["Malformed value."]
            continue
        where &= _condition(path, lookup, value)
        only_submitted |= base == "qualified" or (base == "status" and lookup == "" and value == SUBMITTED)
    if errors:
        raise ValidationError(errors)
    return where, only_submitted


# Orderings: the search API's allow-list, same keys, same tie-breaker (id ascending) -------------


def _key(field: str, descending: bool, nullable: bool):
    expression = F(field)
    if not nullable:
        return expression.desc() if descending else expression.asc()
    return expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)


ORDERINGS = {
    "rank": (("score", True), ("time_taken", False)),
    "score": (("score", False),),
    "time_taken": (("time_taken", False),),
    "submitted_at": (("submitted_at", False),),
    "started_at": (("started_at", False),),
    "percentile": (("score", False),),
}


def order_by(raw: str, allowed: tuple[str, ...], nullable: bool) -> list:
    keys, seen = [], set()
    for name in raw.split(","):
        descending = name.startswith("-")
        base = name.lstrip("-")
        if base not in allowed:
            raise ValidationError(
                {"ordering": [f"Unknown ordering {name!r}. Allowed: {', '.join(allowed)} (prefix - for descending)."]}
            )
        for field, field_descending in ORDERINGS[base]:
            if field not in seen:
                seen.add(field)
                keys.append(_key(field, field_descending != descending, nullable and field != "started_at"))
    return [*keys, F("id").asc()]


# Derived metrics for the shown rows --------------------------------------------------------------


def _count(queryset) -> Subquery:
    """COUNT(*) of a correlated queryset as a scalar subquery (no GROUP BY)."""
    return Subquery(
        queryset.order_by().annotate(n=Func(Value(1), function="COUNT")).values("n")[:1], output_field=IntegerField()
    )


def with_metrics(queryset):
    board = Attempt.objects.filter(assessment_id=OuterRef("assessment_id"), status=SUBMITTED)
    better = _count(board.filter(score__gt=OuterRef("score")))
    tied_and_faster = _count(
        board.filter(score=OuterRef("score")).annotate(tt=TIME_TAKEN).filter(tt__lt=OuterRef("time_taken"))
    )
    at_least = _count(board.filter(score__gte=OuterRef("score")))
    submitted = Q(status=SUBMITTED)
    return queryset.annotate(
        candidate_display_name=Coalesce(NullIf(F("candidate__display_name"), Value("")), F("candidate__username")),
        time_taken_seconds=Func(
            F("time_taken"), template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField()
        ),
        rank=Case(When(submitted, then=Value(1) + better + tied_and_faster), default=None, output_field=IntegerField()),
        percentile=Case(
            When(
                submitted,
                then=Cast(
                    (F("assessment__submitted_count") - at_least) * Value(100.0) / F("assessment__submitted_count"),
                    FloatField(),
                ),
            ),
            default=None,
            output_field=FloatField(),
        ),
        qualified=Case(
            When(submitted, then=ExpressionWrapper(Q(score__gte=F("assessment__cut_off")), BooleanField())),
            default=None,
            output_field=BooleanField(),
        ),
    )


ROW_FIELDS = (
    "id",
    "candidate_id",
    "candidate_display_name",
    "score",
    "time_taken_seconds",
    "submitted_at",
    "rank",
    "percentile",
    "qualified",
)


class LeaderboardRow(serializers.Serializer):
    attempt_id = serializers.IntegerField(source="id")
    candidate = serializers.SerializerMethodField()
    score = serializers.FloatField()
    time_taken_seconds = serializers.FloatField()
    submitted_at = serializers.DateTimeField()
    rank = serializers.IntegerField()
    percentile = serializers.FloatField()
    qualified = serializers.BooleanField(allow_null=True)

    def get_candidate(self, row) -> dict:
        return {"id": row["candidate_id"], "display_name": row["candidate_display_name"]}


class AttemptRow(LeaderboardRow):
    assessment = serializers.IntegerField(source="assessment_id")
    status = serializers.CharField()
    started_at = serializers.DateTimeField()


class LeaderboardView(ListAPIView):
    pagination_class = Page20
    serializer_class = LeaderboardRow

    def get_queryset(self):
        alias = read_alias()
        user = self.request.user
        visible = Q(status=AssessmentStatus.PUBLISHED)
        if user.role == Role.STAFF and user.organisation_id is not None:
            visible |= Q(organisation_id=user.organisation_id)
        assessment_id = self.kwargs["assessment_id"]
        if not Assessment.objects.using(alias).filter(visible, pk=assessment_id, deleted_at__isnull=True).exists():
            raise NotFound()
        where, _ = parse_filters(self.request.query_params, LEADERBOARD_FILTERS)
        rows = (
            Attempt.objects.using(alias)
            .filter(assessment_id=assessment_id, status=SUBMITTED)
            .annotate(time_taken=TIME_TAKEN)
            .filter(where)
        )
        self.count_queryset = rows
        ordering = order_by(
            self.request.query_params.get("ordering", "rank"),
            ("rank", "score", "time_taken", "percentile", "submitted_at"),
            nullable=False,
        )
        return with_metrics(rows).order_by(*ordering).values(*ROW_FIELDS)


class AttemptListView(ListAPIView):
    pagination_class = Page20
    serializer_class = AttemptRow

    def get_queryset(self):
        alias = read_alias()
        user = self.request.user
        visible = Q(candidate_id=user.pk)
        if user.role == Role.STAFF and user.organisation_id is not None:
            visible |= Q(assessment__organisation_id=user.organisation_id)
        where, only_submitted = parse_filters(self.request.query_params, ATTEMPT_FILTERS)
        rows = (
            Attempt.objects.using(alias)
            .filter(visible, assessment__deleted_at__isnull=True)
            .annotate(time_taken=TIME_TAKEN)
            .filter(where)
        )
        self.count_queryset = rows
        ordering = order_by(
            self.request.query_params.get("ordering", "-started_at"),
            ("started_at", "submitted_at", "score", "time_taken"),
            nullable=not only_submitted,
        )
        return with_metrics(rows).order_by(*ordering).values(*ROW_FIELDS, "assessment_id", "status", "started_at")
