"""Read your own writes across the split, against the real pipeline and search API.

Random writes of every kind the write API offers, each followed at once by a read carrying its
consistency token: every read must show its write (rows, counters, rank/percentile/qualified,
deletions and the fan-out of a deleted assessment). The same walk without the token must miss,
which proves that the check can fail.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import connections

from shared.consistency import STATUS_HEADER, TOKEN_HEADER
from tests.helpers import ApiClient, Tenant, make_tenant
from tests.search_api.conftest import fresh_token

pytestmark = pytest.mark.usefixtures("pipeline")

WALKERS = 6  # below the search API's threads (SEARCH_WORKERS x SEARCH_THREADS): reads wait in place
WRITES_PER_WALKER = 50
ASSESSMENT = {"cut_off": "50", "max_score": "100", "duration_minutes": 30, "status": "published"}
KINDS = (
    "post_create",
    "post_update",
    "post_delete",
    "comment_create",
    "comment_delete",
    "cut_off",
    "submit",
    "assessment_create",
    "assessment_delete",
)


def word() -> str:
    return "zq" + "".join("abcdefghijklmnop"[int(ch, 16)] for ch in uuid.uuid4().hex[:12])


@dataclass
class World:
    """One walker's tenant and what it believes the indexes must show."""

    tenant: Tenant
    search_token: str
    assessment: int = 0
    cut_off: Decimal = Decimal(50)
    scores: dict[int, Decimal] = field(default_factory=dict)  # attempt id -> score, on `assessment`
    unused_candidates: list[str] = field(default_factory=list)
    main_post: int = 0
    comments: list[int] = field(default_factory=list)
    posts: list[int] = field(default_factory=list)
    spare_assessments: list[tuple[int, int]] = field(default_factory=list)  # (assessment, its attempt)


class Walker:
    def __init__(self, world: World, client, rng: random.Random, *, with_token: bool):
        self.world, self.search, self.rng, self.with_token = world, client, rng, with_token
        self.api = ApiClient()

    def write(self, method: str, path: str, body=None, token: str | None = None):
        response = self.api.request(method, path, body, token or self.world.tenant.staff_token)
        assert response.status_code in (200, 201, 204), (method, path, response.status_code, response.content[:300])
        assert TOKEN_HEADER in response, (method, path, dict(response.items()))
        return response

    def read(self, path: str, write_response, params: dict | None = None):
        headers = {TOKEN_HEADER: write_response[TOKEN_HEADER]} if self.with_token else {}
        response = self.search.get(path, self.world.search_token, params, headers=headers)
        assert response.status_code in (200, 404), (path, response.status_code, response.text[:300])
        if self.with_token:
            assert response.headers[STATUS_HEADER] in ("reflected", "pending"), response.headers
        return response

    def new_assessment(self) -> tuple[object, int]:
        created = self.write("POST", "/api/v1/assessments", {**ASSESSMENT, "title": word()})
        return created, created.json()["id"]

    def submit(self) -> tuple[object, int, Decimal]:
        world = self.world
        if not world.unused_candidates:  # every candidate has an attempt on it: a fresh board
            _, world.assessment = self.new_assessment()
            world.cut_off, world.scores = Decimal(50), {}
            world.unused_candidates = list(world.tenant.candidate_tokens)
        candidate = world.unused_candidates.pop()
        attempt = self.write("POST", f"/api/v1/assessments/{world.assessment}/attempts", {}, token=candidate).json()
        score = Decimal(self.rng.randrange(0, 10000)) / 100
        while score in world.scores.values():  # distinct scores: ranks without ties
            score += Decimal("0.01")
        submitted = self.write("POST", f"/api/v1/attempts/{attempt['id']}/submit", {"score": str(score)}, candidate)
        world.scores[attempt["id"]] = score
        return submitted, attempt["id"], score

    # Each step writes, reads at once, and returns None when the read shows the write, else what it saw.

    def post_create(self):
        title = word()
        response = self.write("POST", "/api/v1/posts", {"title": title, "body": "b"})
        post_id = response.json()["id"]
        self.world.posts.append(post_id)
        rows = self.read("/search/v1/posts", response, {"id": post_id}).json()["results"]
        return None if [row["title"] for row in rows] == [title] else rows

    def post_update(self):
        if not self.world.posts:
            return self.post_create()
        post_id, title = self.rng.choice(self.world.posts), word()
        response = self.write("PATCH", f"/api/v1/posts/{post_id}", {"title": title})
        rows = self.read("/search/v1/posts", response, {"id": post_id}).json()["results"]
        return None if [row["title"] for row in rows] == [title] else rows

    def post_delete(self):
        if not self.world.posts:
            return self.post_create()
        post_id = self.world.posts.pop(self.rng.randrange(len(self.world.posts)))
        response = self.write("DELETE", f"/api/v1/posts/{post_id}")
        rows = self.read("/search/v1/posts", response, {"id": post_id}).json()["results"]
        return None if rows == [] else rows

    def _main_post_shows(self, response) -> object:
        world = self.world
        post = self.read("/search/v1/posts", response, {"id": world.main_post}).json()["results"]
        listed = self.read(f"/search/v1/posts/{world.main_post}/comments", response)
        if listed.status_code != 200:  # the post itself is not searchable yet
            return {"comments": listed.status_code}
        comments = listed.json()["results"]
        if [row["comments_count"] for row in post] != [len(world.comments)]:
            return {"post": post}
        if sorted(row["id"] for row in comments) != sorted(world.comments):
            return {"comments": [row["id"] for row in comments], "expected": world.comments}
        return None

    def comment_create(self):
        response = self.write("POST", f"/api/v1/posts/{self.world.main_post}/comments", {"body": word()})
        self.world.comments.append(response.json()["id"])
        return self._main_post_shows(response)

    def comment_delete(self):
        if not self.world.comments:
            return self.comment_create()
        comment_id = self.world.comments.pop(self.rng.randrange(len(self.world.comments)))
        return self._main_post_shows(self.write("DELETE", f"/api/v1/comments/{comment_id}"))

    def cut_off(self):
        world = self.world
        if not world.scores:
            return self.submit_step()
        world.cut_off = Decimal(self.rng.randrange(0, 100))
        response = self.write("PATCH", f"/api/v1/assessments/{world.assessment}", {"cut_off": str(world.cut_off)})
        attempt_id = self.rng.choice(list(world.scores))
        row = self.read(f"/search/v1/attempts/{attempt_id}", response).json()
        expected = world.scores[attempt_id] >= world.cut_off
        return None if row.get("qualified") is expected else {"row": row, "cut_off": str(world.cut_off)}

    def submit_step(self):
        response, attempt_id, score = self.submit()
        scores = list(self.world.scores.values())
        row = self.read(f"/search/v1/attempts/{attempt_id}", response).json()
        board = self.read(f"/search/v1/assessments/{self.world.assessment}", response).json()
        expected = {
            "rank": 1 + sum(other > score for other in scores),
            "percentile": sum(other < score for other in scores) * 100 / len(scores),
            "qualified": score >= self.world.cut_off,
            "submitted_count": len(scores),
        }
        seen = {
            "rank": row.get("rank"),
            "percentile": row.get("percentile"),
            "qualified": row.get("qualified"),
            "submitted_count": board.get("submitted_count"),
        }
        if seen["percentile"] is not None:
            seen["percentile"] = pytest.approx(seen["percentile"])
        return None if seen == expected else {"seen": seen, "expected": expected}

    def assessment_create(self):
        response, assessment_id = self.new_assessment()
        found = self.read(f"/search/v1/assessments/{assessment_id}", response)
        return None if found.status_code == 200 else found.status_code

    def assessment_delete(self):
        """Its attempts disappear from the candidate's list too: the deletion's fan-out."""
        world = self.world
        if not world.spare_assessments:
            _, assessment_id = self.new_assessment()
            candidate = world.tenant.candidate_tokens[0]
            attempt = self.write("POST", f"/api/v1/assessments/{assessment_id}/attempts", {}, token=candidate).json()
            world.spare_assessments.append((assessment_id, attempt["id"]))
        assessment_id, attempt_id = world.spare_assessments.pop()
        response = self.write("DELETE", f"/api/v1/assessments/{assessment_id}")
        detail = self.read(f"/search/v1/assessments/{assessment_id}", response)
        attempts = self.read("/search/v1/attempts", response, {"assessment": assessment_id}).json()["results"]
        return None if detail.status_code == 404 and attempts == [] else (detail.status_code, attempts)

    def step(self, kind: str):
        method = self.submit_step if kind == "submit" else getattr(self, kind)
        return method()


def _world(client) -> World:
    tenant = make_tenant(candidates=8)
    walker = Walker(World(tenant, fresh_token(tenant.staff)), client, random.Random(), with_token=False)
    walker.world.main_post = walker.write("POST", "/api/v1/posts", {"title": word(), "body": "b"}).json()["id"]
    return walker.world


def _walk(worlds: list[World], client, *, with_token: bool, writes_each: int, seed: int) -> tuple[int, list]:
    """(steps taken, misses as (kind, what the read showed)) over one walker thread per world."""
    misses: list = []
    steps = [0]
    lock = threading.Lock()

    def run(index: int, world: World) -> None:
        walker = Walker(world, client, random.Random(seed * 1000 + index), with_token=with_token)
        try:
            for _ in range(writes_each):
                kind = walker.rng.choice(KINDS)
                seen = walker.step(kind)
                with lock:
                    steps[0] += 1
                    if seen is not None:
                        misses.append((kind, seen))
        finally:
            connections.close_all()

    errors: list = []

    def guarded(index: int, world: World) -> None:
        try:
            run(index, world)
        except BaseException as exc:  # re-raised below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i, w)) for i, w in enumerate(worlds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return steps[0], misses


def test_every_read_with_its_token_shows_its_write(search):
    worlds = [_world(search) for _ in range(WALKERS)]
    steps, misses = _walk(worlds, search, with_token=True, writes_each=WRITES_PER_WALKER, seed=1)
    assert steps == WALKERS * WRITES_PER_WALKER
    assert misses == []


def test_the_same_walk_without_tokens_misses(search):
    """Proof that the walk can fail: read at once without the token, some reads miss their write."""
    worlds = [_world(search) for _ in range(2)]
    steps, misses = _walk(worlds, search, with_token=False, writes_each=30, seed=2)
    assert steps == 60
    assert len(misses) >= 10, misses
