"""Test fixtures over the real stack (bin/test starts it): PostgreSQL primary + replica through
pgBouncer, Redis, Elasticsearch, and real Celery worker / Gunicorn processes started here.

Isolation: APP_ENV=test selects its own database, Redis databases and index prefix; a second run
can take another namespace (STACK_NAMESPACE, PG_DB, REDIS_DB_*, ES_INDEX_PREFIX, TEST_*_PORT).
Tests never flush tables (workers in other processes read them): each test makes its own
organisation with unique names, so tests cannot see each other's rows.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from django.core.management import call_command

from tests.helpers import ApiClient, Tenant, make_tenant

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("APP_ENV", "test")


CELERY_WORKERS = ("worker-indexing", "worker-fanout", "worker-counters")  # stack/apps.sh components
PIPELINE_PROCESSES = (*CELERY_WORKERS, "beat", "listener")


def apps(action: str, *components: str) -> None:
    subprocess.run([str(ROOT / "stack" / "apps.sh"), action, *components], check=True, cwd=ROOT)


@contextmanager
def counters_worker_stopped() -> Iterator[None]:
    """No counters batch while it lasts. The counters worker's updates of posts and assessments are
    captured into the outbox like any write, so only with it stopped does the outbox grow by
    exactly what a request wrote (the "nothing half-written" checks)."""
    running = (
        subprocess.run(
            [str(ROOT / "stack" / "apps.sh"), "status", "worker-counters"], cwd=ROOT, capture_output=True
        ).returncode
        == 0
    )
    if running:
        apps("stop", "worker-counters")
    try:
        yield
    finally:
        if running:
            apps("start", "worker-counters")


def _ensure_database() -> None:
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = psycopg2.connect(
        host=db["HOST"], port=settings.CONFIG.pg_port, user=db["USER"], password=db["PASSWORD"], dbname="postgres"
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{db["NAME"]}"')
    conn.close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    """The configured test database itself (no test_ copy: worker processes must see it)."""
    with django_db_blocker.unblock():
        _ensure_database()
        call_command("migrate", interactive=False, verbosity=0)
        from read_indexer.lifecycle.ensure import ensure_all_indexes

        ensure_all_indexes()


@pytest.fixture(scope="session")
def _real_database(django_db_setup, django_db_blocker):
    # Real commits, no wrapping transaction: on_commit must fire and workers must see the rows.
    with django_db_blocker.unblock():
        yield


def pytest_itemcollected(item):
    """Every test but the `fast` ones (no server: `bin/test --fast`) gets the real database first,
    so `pytest -m fast` neither migrates nor creates indexes, and needs no server running."""
    if item.get_closest_marker("fast") is None:
        item.fixturenames.insert(0, "_real_database")


@pytest.fixture(scope="session")
def pipeline(django_db_setup):
    """Real Celery workers and beat for this namespace, restarted so they run the current code."""
    apps("restart", *PIPELINE_PROCESSES)
    apps("start", *PIPELINE_PROCESSES)
    wait_for_workers()
    yield
    apps("stop", *PIPELINE_PROCESSES)


def wait_for_workers(timeout: float = 60) -> None:
    """A worker process is not a consuming worker yet: ping every queue and wait for the pongs."""
    import redis as redis_lib

    from read_indexer import task_names
    from read_indexer.celery_app import app as celery_app
    from shared.config import load_config
    from tests.helpers import wait_until

    client = redis_lib.Redis.from_url(load_config().cache_url)
    for queue in task_names.ALL_QUEUES:
        value = f"ready-{queue}-{uuid.uuid4().hex[:8]}"
        celery_app.send_task(task_names.PING, args=[value], queue=queue)
        wait_until(
            lambda value=value: client.get(f"ping:{value}"), timeout=timeout, message=f"a worker consuming {queue}"
        )


@pytest.fixture(scope="session")
def write_server(django_db_setup):
    apps("restart", "write")
    apps("start", "write")
    yield f"http://127.0.0.1:{os.environ.get('TEST_WRITE_PORT', '8100')}"
    apps("stop", "write")


@pytest.fixture
def tenant() -> Tenant:
    return make_tenant()


@pytest.fixture
def other_tenant() -> Tenant:
    return make_tenant()


@pytest.fixture
def api() -> ApiClient:
    return ApiClient()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


def pytest_collection_modifyitems(config, items):
    """The long fuzz runs are opt-in (FUZZ_CASES=N): without it they are deselected, not skipped."""
    if os.environ.get("FUZZ_CASES"):
        return
    deselected = [item for item in items if item.get_closest_marker("long_fuzz")]
    if deselected:
        items[:] = [item for item in items if not item.get_closest_marker("long_fuzz")]
        config.hook.pytest_deselected(items=deselected)


def pytest_terminal_summary(terminalreporter):
    from tests import summary

    if not summary.RESPONSES:
        return
    terminalreporter.section("requests sent by the suites: 4xx = input refused with a clear error")
    for line in summary.table_lines():
        terminalreporter.write_line(line)
