"""`manage.py seed_demo`: the demo corpus (demo_corpus.json beside this file: assessments, posts and
comments with real titles and text, worth searching) written through the services, so every change
flows through the real pipeline (capture -> workers -> Elasticsearch); candidates and their
attempts are random around it. Prints its throughput.

Assessments go to the organisations in turn; a post goes to its assessment's organisation (posts
are visible to their organisation only), a post of no assessment to the next in turn. With
`--orgs 1` every row is in one organisation, as bench/relevance needs.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand
from tqdm import tqdm

from write_service.accounts.models import Role
from write_service.accounts.services import organisation_create, user_create
from write_service.assessments import services as assessments
from write_service.discussions import services as discussions

CORPUS_PATH = Path(__file__).with_name("demo_corpus.json")
DEMO_PASSWORD = "demo-password"


def load_corpus() -> dict:
    return json.loads(CORPUS_PATH.read_text())


class Command(BaseCommand):
    help = (
        "Create demo organisations and users, then the demo corpus's assessments, posts and comments, "
        "through the services."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orgs", type=int, default=2)
        parser.add_argument(
            "--candidates",
            type=int,
            default=15,
            help="per organisation (each costs a real password hash, ~0.3 s); 0: no attempts",
        )
        parser.add_argument(
            "--org-name", default="Demo Org", help="organisations are named '<org-name> <n> (<run id>)'"
        )
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, orgs, candidates, org_name, seed, **options):
        if orgs < 1:
            self.stderr.write("--orgs must be at least 1.")
            raise SystemExit(2)
        corpus = load_corpus()
        rng = random.Random(seed)
        run = uuid.uuid4().hex[:6]
        writes = 0
        started = time.perf_counter()
        tenants = []
        for o in range(orgs):
            org, staff = organisation_create(
                name=f"{org_name} {o + 1} ({run})", admin_username=f"staff{o + 1}-{run}", admin_password=DEMO_PASSWORD
            )
            people = [
                user_create(
                    actor=staff,
                    username=f"cand{o + 1}-{c}-{run}",
                    password=DEMO_PASSWORD,
                    role=Role.CANDIDATE,
                    display_name=f"Candidate {o + 1}.{c}",
                )
                for c in range(candidates)
            ]
            tenants.append((org, staff, people))
            writes += 1 + candidates

        owner: dict[str, int] = {}  # assessment key -> index of its organisation in tenants
        ids: dict[str, int] = {}  # assessment key -> id
        for n, item in enumerate(tqdm(corpus["assessments"], desc="assessments", unit="assessment")):
            _, staff, people = tenants[n % orgs]
            max_score = Decimal(rng.choice([10, 50, 100]))
            assessment = assessments.assessment_create(
                actor=staff,
                title=item["title"],
                description=item["description"],
                tags=item["tags"],
                difficulty=item["difficulty"],
                status=item["status"],
                max_score=max_score,
                cut_off=(max_score * Decimal("0.6")).quantize(Decimal("0.01")),
                duration_minutes=rng.choice([20, 45, 90]),
            )
            owner[item["key"]], ids[item["key"]] = n % orgs, assessment.pk
            writes += 1 + self._attempts(rng, assessment, people)

        for n, item in enumerate(tqdm(corpus["posts"], desc="posts", unit="post")):
            linked = item["assessment"]
            _, staff, people = tenants[owner[linked] if linked else n % orgs]
            authors = [staff, *people]
            post = discussions.post_create(
                actor=rng.choice(authors),
                title=item["title"],
                body=item["body"],
                tags=item["tags"],
                assessment_id=ids[linked] if linked else None,
            )
            writes += 1
            for body in item["comments"]:
                discussions.comment_create(actor=rng.choice(authors), post_id=post.pk, body=body)
                writes += 1
        for org, staff, _ in tenants:
            self.stdout.write(f"organisation {org.name}: staff login {staff.username} / {DEMO_PASSWORD}")
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"seeded {writes} writes in {elapsed:.1f}s ({writes / elapsed:.0f} writes/s, each one transaction with "
            "its captured changes)"
        )

    @staticmethod
    def _attempts(rng: random.Random, assessment, people) -> int:
        """Some of the organisation's candidates attempt a published assessment; most submit."""
        if assessment.status != "published" or not people:
            return 0
        writes = 0
        for person in rng.sample(people, k=rng.randint(len(people) // 3, len(people))):
            attempt = assessments.attempt_start(actor=person, assessment_id=assessment.pk)
            writes += 1
            if rng.random() < 0.85:
                score = Decimal(rng.randint(0, int(assessment.max_score * 100))) / 100
                assessments.attempt_submit(actor=person, attempt_id=attempt.pk, score=score)
                writes += 1
        return writes
