"""The read path runs no SQL: the service has no database configured, imports nothing that could
reach one, and its running workers have neither loaded a PostgreSQL driver nor opened a
connection to PostgreSQL or pgBouncer after serving every list."""

from __future__ import annotations

import ast
import os
import subprocess
from pathlib import Path

import pytest
from django.conf import settings as write_settings

from tests.conftest import ROOT
from tests.search_api.conftest import fresh_token

FORBIDDEN_IMPORTS = ("write_service", "read_indexer", "django.db", "psycopg2", "psycopg", "django.contrib.auth.models")


@pytest.mark.fast
def test_search_settings_have_no_database():
    result = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'search_api.settings'; django.setup();"
            "from django.conf import settings; from django.db import connections;"
            "from django.core.exceptions import ImproperlyConfigured\n"
            "try:\n    connections['default'].cursor()\nexcept ImproperlyConfigured:\n    print('no database')\n"
            "print(list(settings.DATABASES), settings.DATABASES['default']['ENGINE'])",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    # DATABASES = {}: Django fills in a dummy `default` whose every operation raises.
    assert result.stdout.split("\n")[:2] == ["no database", "['default'] django.db.backends.dummy"], result.stdout


@pytest.mark.fast
def test_no_module_imports_the_write_side_or_a_database():
    offenders = []
    for path in sorted((ROOT / "search_api").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(FORBIDDEN_IMPORTS)]
    assert offenders == []


def _worker_pids() -> list[int]:
    master = subprocess.run(
        [str(ROOT / "stack" / "apps.sh"), "pid", "search"], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.strip()
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


def _remote_ports(pid: int) -> set[int]:
    """Remote TCP ports of every socket the process holds open (from /proc, no extra tools)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[2].rsplit(":", 1)[1], 16))
    return ports


def test_running_workers_never_touched_postgresql(search, dataset):
    token = fresh_token(dataset.tenant.staff)
    paths = [
        "/search/v1/assessments",
        f"/search/v1/assessments/{dataset.leaderboards[0]}/leaderboard",
        "/search/v1/attempts",
        "/search/v1/posts",
    ]
    for _ in range(10):  # spread over the workers
        for path in paths:
            assert search.get(path, token).status_code == 200
    config = write_settings.CONFIG
    pg_ports = {config.pg_port, config.pg_replica_port, config.pgbouncer_port}
    workers = _worker_pids()
    assert workers
    seen_ports: set[int] = set()
    for pid in workers:
        assert "psycopg" not in Path(f"/proc/{pid}/maps").read_text(), f"worker {pid} loaded a PostgreSQL driver"
        seen_ports |= _remote_ports(pid)
    assert not seen_ports & pg_ports, seen_ports
    # Positive control: the same inspection does see the workers' Elasticsearch and Redis connections.
    assert {9200, 6379} <= seen_ports, seen_ports
