"""Random data sets for brute-force comparisons, written straight to PostgreSQL and indexed by the
pipeline, then refreshed so they are searchable at once.

Rows are bulk-created, so the capture triggers record them like any write: the data set is read
once the pipeline is idle (the counters batch has added the attempts to their assessments' random
counts, and indexed everything). Every timestamp lies days in the past, so counter reconciliation
(which recounts recently active rows) leaves the deliberately random counters alone. Values are
drawn from small pools on purpose: ties in every sortable field exercise the tie-breaker and the
cursor.
"""

from __future__ import annotations

import os
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from read_indexer.operations import pipeline_status
from tests.helpers import Tenant, make_tenant
from tests.search_api.conftest import refresh_indexes
from write_service.accounts.models import Role, User
from write_service.assessments.models import Assessment, Attempt
from write_service.assessments.selectors import attempts_with_metrics
from write_service.discussions.models import Comment, Post
from write_service.read_model.projections import PROJECTIONS

SEED = int(os.environ.get("SEARCH_TEST_SEED") or random.randrange(2**32))
WORDS = ["python", "graphs", "sql", "tree", "stream", "cache", "queue", "heap", "parser", "vector", "index", "shard"]
TAGS = ["python", "sql", "go", "rust", "js", "algorithms"]
SCORES = [Decimal(s) for s in ("0", "12.5", "40", "55", "55.5", "70", "85", "99.99", "100")]
DURATIONS = [60, 90, 90.25, 300, 1800]  # seconds; repeats make equal times


@dataclass
class Dataset:
    seed: int
    tenant: Tenant
    other: Tenant
    candidate: User  # a candidate of `tenant` with a token (tenant.candidate_tokens[0])
    leaderboards: list[int]  # assessment ids with attempts: [published, draft]
    commented_post: int = 0  # a live post of `tenant` with comments (some deleted)
    docs: dict[str, list[dict]] = field(default_factory=dict)  # list name -> projected sources

    @property
    def organisations(self) -> tuple[int, int]:
        return self.tenant.organisation.pk, self.other.organisation.pk


def _text(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(w.capitalize() if rng.random() < 0.3 else w for w in words)


def _times(rng: random.Random, count: int) -> list[datetime]:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    # Microseconds below the millisecond: the index keeps milliseconds only.
    return [
        base + timedelta(hours=rng.randint(0, 500), microseconds=rng.choice([0, 123, 123456, 999999]))
        for _ in range(count)
    ]


def _assessments(rng: random.Random, tenant: Tenant, count: int, times: list[datetime]) -> list[Assessment]:
    rows = Assessment.objects.bulk_create(
        [
            Assessment(
                organisation=tenant.organisation,
                created_by=tenant.staff,
                title=_text(rng, 1, 4),
                description=_text(rng, 0, 12),
                tags=sorted(set(rng.sample(TAGS, rng.randint(0, 3)))),
                difficulty=rng.choice(["easy", "medium", "hard"]),
                status=rng.choices(["draft", "published", "archived"], weights=[3, 5, 2])[0],
                cut_off=Decimal(rng.choice(["50", "55.5", "70"])),
                max_score=Decimal("100"),
                duration_minutes=rng.choice([30, 60]),
                attempts_count=rng.choice([0, 1, 3, 3, 7, 20]),
            )
            for _ in range(count)
        ]
    )
    for row in rows:
        row.created_at = rng.choice(times)
        row.deleted_at = rng.choice(times) if rng.random() < 0.08 else None
    Assessment.objects.bulk_update(rows, ["created_at", "deleted_at"])
    return rows


def _attempts(
    rng: random.Random, assessment: Assessment, candidates: list[User], times: list[datetime]
) -> list[Attempt]:
    rows = []
    for candidate in candidates:
        started = rng.choice(times)
        submitted = rng.random() < 0.85
        rows.append(
            Attempt(
                assessment=assessment,
                candidate=candidate,
                started_at=started,
                submitted_at=started + timedelta(seconds=rng.choice(DURATIONS)) if submitted else None,
                score=rng.choice(SCORES) if submitted else None,
                status="submitted" if submitted else "started",
            )
        )
    return Attempt.objects.bulk_create(rows)


def _posts(
    rng: random.Random,
    tenant: Tenant,
    authors: list[User],
    assessments: list[Assessment],
    count: int,
    times: list[datetime],
) -> list[Post]:
    rows = Post.objects.bulk_create(
        [
            Post(
                organisation=tenant.organisation,
                author=rng.choice(authors),
                title=_text(rng, 1, 5),
                body=_text(rng, 0, 15),
                tags=sorted(set(rng.sample(TAGS, rng.randint(0, 2)))),
                assessment=rng.choice([None, *assessments]),
                comments_count=rng.choice([0, 0, 1, 2, 5, 13]),
            )
            for _ in range(count)
        ]
    )
    for row in rows:
        row.created_at = rng.choice(times)
        row.last_activity_at = row.created_at + timedelta(hours=rng.choice([0, 0, 1, 48]))
        row.deleted_at = rng.choice(times) if rng.random() < 0.08 else None
    Post.objects.bulk_update(rows, ["created_at", "last_activity_at", "deleted_at"])
    return rows


def _comments(rng: random.Random, post: Post, authors: list[User], count: int, times: list[datetime]) -> list[Comment]:
    rows = Comment.objects.bulk_create(
        [Comment(post=post, author=rng.choice(authors), body=_text(rng, 1, 12)) for _ in range(count)]
    )
    for row in rows:
        row.created_at = rng.choice(times)
        row.deleted_at = rng.choice(times) if rng.random() < 0.08 else None
    Comment.objects.bulk_update(rows, ["created_at", "deleted_at"])
    return rows


def build_dataset(seed: int) -> Dataset:
    rng = random.Random(seed)
    tenant, other = make_tenant(candidates=1), make_tenant(candidates=0)
    suffix = uuid.uuid4().hex[:8]
    bulk_candidates = User.objects.bulk_create(
        [
            User(
                username=f"bulk-{suffix}-{i}",
                organisation=tenant.organisation,
                role=Role.CANDIDATE,
                display_name=rng.choice(["Ada", "Alan", "Grace", ""]),
                password="!",
            )
            for i in range(36)
        ]
    )
    candidate = tenant.candidates[0]
    times = _times(rng, 25)

    own = _assessments(rng, tenant, 45, times)
    foreign = _assessments(rng, other, 25, times)
    live = [a for a in own if a.deleted_at is None]
    published = next(a for a in live if a.status == "published")
    draft = next(a for a in live if a.status == "draft")
    attempts = [
        *_attempts(rng, published, [candidate, *bulk_candidates], times),
        *_attempts(rng, draft, [candidate, *rng.sample(bulk_candidates, 9)], times),
    ]
    posts = [
        *_posts(rng, tenant, [tenant.staff, candidate, *bulk_candidates[:5]], own, 50, times),
        *_posts(rng, other, [other.staff], foreign, 8, times),
    ]

    commented = next(p for p in posts if p.deleted_at is None)
    comments = _comments(rng, commented, [tenant.staff, candidate, *bulk_candidates[:5]], 60, times)

    ids = {
        "assessments": [a.pk for a in own + foreign],
        "attempts": [a.pk for a in attempts],
        "posts": [p.pk for p in posts],
        "comments": [c.pk for c in comments],
    }
    dataset = Dataset(
        seed=seed,
        tenant=tenant,
        other=other,
        candidate=candidate,
        leaderboards=[published.pk, draft.pk],
        commented_post=commented.pk,
    )
    pipeline_status.wait_until_idle()
    for index_name, row_ids in ids.items():
        dataset.docs[index_name] = [doc.source for doc in PROJECTIONS[index_name].project(row_ids)]
    dataset.docs["attempts"] = with_reference_metrics(dataset.docs["attempts"])
    refresh_indexes()
    return dataset


def with_reference_metrics(attempt_docs: list[dict]) -> list[dict]:
    """Attempt documents as the API's rows must describe them: rank, percentile and qualified from
    the write side's window-function selector (the reference), and the assessment's status that
    decides leaderboard visibility; the documents themselves hold neither."""
    assessment_ids = sorted({d["assessment"] for d in attempt_docs})
    reference = {r["attempt_id"]: r for r in attempts_with_metrics(assessment_ids=assessment_ids)}
    statuses = dict(Assessment.objects.filter(pk__in=assessment_ids).values_list("pk", "status"))
    return [
        {
            **doc,
            "rank": reference[doc["attempt_id"]]["rank"],
            "percentile": reference[doc["attempt_id"]]["percentile"],
            "qualified": reference[doc["attempt_id"]]["qualified"],
            "assessment_status": statuses[doc["assessment"]],
        }
        for doc in attempt_docs
    ]
