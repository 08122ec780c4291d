"""`manage.py seed_demo`: demo data written through the services, so every event flows through the
real pipeline (outbox -> workers -> Elasticsearch). Prints its throughput."""
from __future__ import annotations

import random
import time
import uuid
from decimal import Decimal

from django.core.management.base import BaseCommand
from tqdm import tqdm

from write_service.accounts.models import Role
from write_service.accounts.services import organisation_create, user_create
from write_service.assessments import services as assessments
from write_service.discussions import services as discussions

TOPICS = ["python", "sql", "postgres", "django", "algorithms", "networking", "security", "rust", "go", "statistics"]
WORDS = ("window functions joins indexes recursion graphs caching queues consistency latency sharding "
         "replication transactions locking parsing testing profiling").split()
DEMO_PASSWORD = "demo-password"


class Command(BaseCommand):
    help = "Create demo organisations, users, assessments, attempts, posts and comments through the services."

    def add_arguments(self, parser):
        parser.add_argument("--orgs", type=int, default=2)
        parser.add_argument("--assessments", dest="assessments_per_org", type=int, default=8, help="per organisation")
        parser.add_argument("--candidates", type=int, default=15,
                            help="per organisation (each costs a real password hash, ~0.3 s)")
        parser.add_argument("--posts", type=int, default=20, help="per organisation")
        parser.add_argument("--comments", type=int, default=5, help="per post (average)")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, orgs, assessments_per_org, candidates, posts, comments, seed, **options):
        rng = random.Random(seed)
        run = uuid.uuid4().hex[:6]
        writes = 0
        started = time.perf_counter()
        for o in range(orgs):
            org, staff = organisation_create(name=f"Demo Org {o + 1} ({run})", admin_username=f"staff{o + 1}-{run}",
                                             admin_password=DEMO_PASSWORD)
            people = [user_create(actor=staff, username=f"cand{o + 1}-{c}-{run}", password=DEMO_PASSWORD,
                                  role=Role.CANDIDATE, display_name=f"Candidate {o + 1}.{c}") for c in range(candidates)]
            writes += 1 + candidates
            owned = []
            for a in tqdm(range(assessments_per_org), desc=f"org {o + 1} assessments", unit="assessment"):
                max_score = Decimal(rng.choice([10, 50, 100]))
                assessment = assessments_create(staff, rng, a, max_score)
                owned.append(assessment)
                writes += 1
                if assessment.status != "published":
                    continue
                for person in rng.sample(people, k=rng.randint(len(people) // 3, len(people))):
                    attempt = assessments.attempt_start(actor=person, assessment_id=assessment.pk)
                    writes += 1
                    if rng.random() < 0.85:
                        score = Decimal(rng.randint(0, int(max_score * 100))) / 100
                        assessments.attempt_submit(actor=person, attempt_id=attempt.pk, score=score)
                        writes += 1
            authors = [staff, *people]
            for p in tqdm(range(posts), desc=f"org {o + 1} posts", unit="post"):
                post = discussions.post_create(
                    actor=rng.choice(authors), title=f"{rng.choice(TOPICS).title()}: {' '.join(rng.sample(WORDS, 4))}",
                    body=" ".join(rng.choices(WORDS, k=40)), tags=rng.sample(TOPICS, 2),
                    assessment_id=rng.choice(owned).pk if owned and rng.random() < 0.5 else None,
                )
                writes += 1
                for _ in range(rng.randint(0, 2 * comments)):
                    discussions.comment_create(actor=rng.choice(authors), post_id=post.pk, body=" ".join(rng.choices(WORDS, k=12)))
                    writes += 1
            self.stdout.write(f"organisation {org.name}: staff login {staff.username} / {DEMO_PASSWORD}")
        elapsed = time.perf_counter() - started
        self.stdout.write(f"seeded {writes} writes in {elapsed:.1f}s ({writes / elapsed:.0f} writes/s, each one transaction with its outbox event)")


def assessments_create(staff, rng: random.Random, n: int, max_score: Decimal):
    topic = rng.choice(TOPICS)
    return assessments.assessment_create(
        actor=staff, title=f"{topic.title()} assessment {n + 1}", description=f"Questions on {' '.join(rng.sample(WORDS, 5))}.",
        tags=[topic, *rng.sample(TOPICS, 1)], difficulty=rng.choice(["easy", "medium", "hard"]),
        status=rng.choice(["published", "published", "published", "draft"]), cut_off=(max_score * Decimal("0.6")).quantize(Decimal("0.01")),
        max_score=max_score, duration_minutes=rng.choice([20, 45, 90]),
    )
