"""The seam between the write side and the read model, checked on the source tree (no server).

read_indexer reaches write-side tables only through write_service.read_model (which takes their
names from the models), search_api and shared reach them not at all, and the write side imports
nothing of read_indexer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps

pytestmark = pytest.mark.fast
ROOT = Path(__file__).resolve().parents[1]
DOOR = "write_service.read_model"


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _write_side_tables() -> set[str]:
    return {model._meta.db_table for model in apps.get_models() if model.__module__.startswith("write_service.")}


def test_the_write_side_has_tables_to_protect():
    assert {"outbox_outboxevent", "assessments_attempt", "discussions_post"} <= _write_side_tables()


@pytest.mark.parametrize("package", ["read_indexer", "search_api", "shared"])
def test_no_write_side_table_is_named_outside_the_write_side(package):
    names = re.compile(r"\b(" + "|".join(sorted(_write_side_tables())) + r")\b")
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(1)}"
        for path in _modules(package)
        for match in names.finditer(path.read_text())
    ]
    assert offenders == []


def test_read_indexer_uses_only_the_door_of_the_write_side():
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in _modules("read_indexer")
        for module in _imports(path)
        if module.startswith("write_service") and not module.startswith(DOOR)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "package,forbidden",
    [
        ("write_service", "read_indexer"),
        ("search_api", "write_service"),
        ("search_api", "read_indexer"),
        ("shared", "write_service"),
        ("shared", "read_indexer"),
        ("shared", "search_api"),
    ],
)
def test_no_import_crosses_the_seam_backwards(package, forbidden):
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in _modules(package)
        for module in _imports(path)
        if module.split(".")[0] == forbidden
    ]
    assert offenders == []
