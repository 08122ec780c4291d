"""Support for operator-command tests: run commands as real processes, seed rows, write concurrently, stop beat.

Commands run as subprocesses (`python manage.py ...`) with this test run's environment, so exit
codes, stderr and SIGKILL behave exactly as they do for an operator.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
from django.db import connections

from read_indexer.operations import pipeline_status
from read_indexer.projection.documents import project_and_index
from read_indexer.task_names import QUEUE_MAINTENANCE
from tests.helpers import PASSWORD, make_tenant
from write_service.accounts.models import Organisation, Role, User
from write_service.accounts.services import organisation_create
from write_service.assessments.services import assessment_create, assessment_update, attempt_start, attempt_submit
from write_service.discussions.models import Post
from write_service.discussions.services import comment_create, post_create, post_delete, post_update

ROOT = Path(__file__).resolve().parents[2]
SEED_ORGANISATION = "operators-seed"
SEED_POSTS = 20_000


def command_env(**overrides: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **overrides}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # manage.py picks its own, like an operator's shell
    return env


def manage(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=command_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def manage_async(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=command_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def log_entries(stderr: str, event: str, **fields) -> list[dict]:
    """A command's structured log lines (JSON lines on stderr) for `event` with these fields; a line
    still being written (the command runs on) is not one yet."""
    entries = []
    for line in stderr.splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if entry.get("event") == event and all(entry.get(key) == value for key, value in fields.items()):
            entries.append(entry)
    return entries


def logged_at(stderr: str, event: str, **fields) -> float:
    """When a command logged `event` with these fields."""
    for entry in log_entries(stderr, event, **fields):
        return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
    raise AssertionError(f"no {event} {fields or ''} in the command's log")


class Writer(threading.Thread):
    """Keeps writing through the real services: posts, comments, edits, deletes, attempts, cut-offs.

    Half of the writes go to old (seeded, low-id) posts: the bulk load has already passed those
    rows when the write lands, so only the dual write can carry it into the new index.
    """

    def __init__(self, seed_organisation: int):
        super().__init__(daemon=True)
        self.seed_staff = User.objects.get(organisation_id=seed_organisation, role=Role.STAFF)
        self.seed_post_ids = list(
            Post.objects.filter(organisation_id=seed_organisation).order_by("id").values_list("id", flat=True)[:2000]
        )
        self.tenant = make_tenant(candidates=12)
        self.assessment = assessment_create(
            actor=self.tenant.staff,
            title="reindex under load",
            cut_off=Decimal(50),
            max_score=Decimal(100),
            duration_minutes=30,
            status="published",
        )
        self.stop = threading.Event()
        self.post_ids: list[int] = []
        self.write_times: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        staff, commenters, candidates = self.tenant.staff, self.tenant.candidates[:2], list(self.tenant.candidates)
        live: list[int] = []
        try:
            i = 0
            while not self.stop.is_set():
                i += 1
                post = post_create(actor=staff, title=f"live post {i}", body="written during a reindex", tags=["live"])
                self.post_ids.append(post.pk)
                live.append(post.pk)
                old_post = random.choice(self.seed_post_ids)
                comment_create(actor=self.seed_staff, post_id=old_post, body=f"late comment {i}")
                post_update(actor=self.seed_staff, post_id=old_post, changes={"body": f"edited late {i}"})
                self.post_ids.append(old_post)
                comment_create(actor=commenters[i % 2], post_id=random.choice(live), body=f"comment {i}")
                if i % 4 == 0:
                    post_update(actor=staff, post_id=random.choice(live), changes={"title": f"edited {i}"})
                if i % 9 == 0:
                    post_delete(actor=staff, post_id=live.pop(0))
                if i % 3 == 0 and candidates:
                    candidate = candidates.pop()
                    attempt = attempt_start(actor=candidate, assessment_id=self.assessment.pk)
                    attempt_submit(actor=candidate, attempt_id=attempt.pk, score=Decimal(random.randint(0, 100)))
                if i % 10 == 0:
                    assessment_update(
                        actor=staff,
                        assessment_id=self.assessment.pk,
                        changes={"cut_off": Decimal(random.randint(10, 90))},
                    )
                self.write_times.append(time.time())
        except Exception as exc:  # surfaced by the test, not swallowed
            self.errors.append(repr(exc))
        finally:
            connections.close_all()


# Burns CPU until its deadline, then exits: bounded even if the test process dies without killing it.
_BURNER = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


@contextmanager
def cpu_pressure(processes: int = os.cpu_count() or 2, seconds: float = 180) -> Iterator[None]:
    """Competing CPU burners for the block (one per core by default), like a machine loaded by other
    work; each stops at its own deadline and is killed when the block ends."""
    burners = [subprocess.Popen([sys.executable, "-c", _BURNER, str(seconds)]) for _ in range(processes)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
        for burner in burners:
            burner.wait(timeout=10)


def json_output(result: subprocess.CompletedProcess):
    return orjson.loads(result.stdout)


def seed_posts(count: int = SEED_POSTS) -> tuple[int, int]:
    """Ensures the seed organisation has `count` indexed posts (inserted in SQL once, then reused)."""
    organisation = Organisation.objects.filter(name=SEED_ORGANISATION).first()
    if organisation is None:
        organisation, _staff = organisation_create(
            name=SEED_ORGANISATION, admin_username=SEED_ORGANISATION, admin_password=PASSWORD
        )
    author = User.objects.get(username=SEED_ORGANISATION)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM discussions_post WHERE organisation_id = %s", [organisation.pk])
        missing = count - cursor.fetchone()[0]
        if missing > 0:
            cursor.execute(
                """
                INSERT INTO discussions_post (organisation_id, author_id, title, body, tags, created_at, updated_at,
                                              comments_count, last_activity_at, version)
                SELECT %s, %s, 'seed post ' || g, 'seed body ' || g || ' lorem ipsum dolor sit amet',
                       ARRAY['seed', 'tag' || (g %% 10)], now(), now(), 0, now(), 1
                FROM generate_series(1, %s) AS g
                """,
                [organisation.pk, author.pk, missing],
            )
        cursor.execute("SELECT id FROM discussions_post WHERE organisation_id = %s ORDER BY id", [organisation.pk])
        ids = [row[0] for row in cursor.fetchall()]
    if indexed_seed_posts(organisation.pk) != len(ids):
        for start in range(0, len(ids), 2000):
            project_and_index("posts", ids[start : start + 2000])
        # Searchable before returning (indexed_seed_posts refreshes): a test's readers start at once,
        # and the scheduled refresh can be seconds behind on a loaded machine (readers would count
        # part of the seed and blame the reindex).
        indexed = indexed_seed_posts(organisation.pk)
        assert indexed == len(ids), f"{indexed} of {len(ids)} seed posts are searchable after seeding"
    return organisation.pk, len(ids)


def indexed_seed_posts(organisation_id: int, index: str | None = None) -> int:
    from shared.es_client import get_es_client
    from shared.indexes import POSTS

    es = get_es_client()
    es.indices.refresh(index=index or POSTS.alias)
    return es.count(index=index or POSTS.alias, query={"term": {"organisation": organisation_id}})["count"]


@contextmanager
def beat_stopped() -> Iterator[None]:
    """No periodic sweep while it lasts: the drift sweep (every 30 s) would heal injected drift
    before the command under test looks at it."""
    from read_indexer.observability.broker_queues import depth
    from tests.conftest import apps
    from tests.helpers import wait_until

    apps("stop", "beat")
    try:
        wait_until(
            lambda: not depth(QUEUE_MAINTENANCE) and not pipeline_status.held_by_live_workers().get(QUEUE_MAINTENANCE),
            timeout=60,
            message="no maintenance task queued or running",
        )
        yield
    finally:
        apps("start", "beat")
