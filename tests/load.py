"""A background writer that keeps a ledger of every acknowledged write, and convergence checks.

Used by the crash tests of the pipeline and by the fault suite: after a fault, every write the
writer saw acknowledged must be in the index, equal to the database's projection, with exact
counters.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from django.db import connections

from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from tests.helpers import Tenant
from write_service.discussions.models import Comment, Post
from write_service.discussions.services import comment_create, post_create, post_update
from write_service.read_model.projections import PROJECTIONS


@dataclass
class Ledger:
    posts: list[int] = field(default_factory=list)
    comments: dict[int, int] = field(default_factory=dict)  # post id -> acknowledged comments
    errors: list[str] = field(default_factory=list)


class BackgroundWriter(threading.Thread):
    """Creates posts, comments on them and edits them until stopped; records what was acknowledged."""

    def __init__(self, tenant: Tenant, rate_per_second: float = 40):
        super().__init__(daemon=True)
        self.tenant = tenant
        self.pause = 1 / rate_per_second
        self.ledger = Ledger()
        self._stop_event = threading.Event()

    def run(self):
        step = 0
        try:
            while not self._stop_event.is_set():
                step += 1
                try:
                    if step % 5 == 1 or not self.ledger.posts:
                        post = post_create(actor=self.tenant.staff, title=f"load {step}", body="ledger")
                        self.ledger.posts.append(post.pk)
                        self.ledger.comments[post.pk] = 0
                    elif step % 5 == 2:
                        post_update(
                            actor=self.tenant.staff, post_id=self.ledger.posts[-1], changes={"title": f"edit {step}"}
                        )
                    else:
                        post_id = self.ledger.posts[step % len(self.ledger.posts)]
                        comment_create(actor=self.tenant.staff, post_id=post_id, body="c")
                        self.ledger.comments[post_id] += 1
                except Exception as exc:  # a write refused during a fault is not acknowledged
                    self.ledger.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    connections.close_all()
                time.sleep(self.pause)
        finally:
            connections.close_all()

    def stop(self) -> Ledger:
        self._stop_event.set()
        self.join(timeout=30)
        return self.ledger


def index_matches_database(ledger: Ledger) -> list[str]:
    """Every problem found: a missing or stale document, or an inexact counter."""
    problems = []
    es = get_es_client()
    for start in range(0, len(ledger.posts), 500):
        ids = ledger.posts[start : start + 500]
        found = {
            d["_id"]: d.get("_source")
            for d in es.mget(index=ALL_INDEXES["posts"].alias, ids=[str(i) for i in ids])["docs"]
            if d.get("found")
        }
        for doc in PROJECTIONS["posts"].project(ids):
            if found.get(str(doc.id)) != doc.source:
                problems.append(f"post {doc.id}: index {found.get(str(doc.id))} != db {doc.source}")
    counts = dict(Post.objects.filter(pk__in=ledger.posts).values_list("pk", "comments_count"))
    for post_id, acknowledged in ledger.comments.items():
        actual = Comment.objects.filter(post_id=post_id, deleted_at__isnull=True).count()
        if not (counts.get(post_id) == actual >= acknowledged):
            problems.append(
                f"post {post_id}: counter {counts.get(post_id)}, rows {actual}, acknowledged {acknowledged}"
            )
    return problems


def wait_for_convergence(ledger: Ledger, timeout: float = 60) -> float:
    """Seconds until the index and counters match the database (fails after `timeout`)."""
    started = time.monotonic()
    problems: list[str] = []
    while time.monotonic() - started < timeout:
        problems = index_matches_database(ledger)
        if not problems:
            return time.monotonic() - started
        time.sleep(1)
    raise AssertionError(f"not converged after {timeout}s; {len(problems)} problems, first: {problems[:3]}")
