"""The tree is formatted and lint-clean by ruff, as configured in pyproject.toml ([tool.ruff]).

Fix with `.venv/bin/ruff format . && .venv/bin/ruff check --fix .`; what --fix cannot fix is
fixed by hand, not silenced.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast
ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    # The interpreter running the tests is the project's environment, where the dev group installs ruff.
    assert importlib.util.find_spec("ruff"), "ruff is not installed here: stack/python_env.sh syncs the dev group"
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_tree_is_formatted():
    result = _ruff("format", "--check", "--no-cache", ".")
    assert result.returncode == 0, f"ruff format would change files:\n{result.stdout}{result.stderr}"


def test_the_tree_is_lint_clean():
    result = _ruff("check", "--no-cache", "--output-format", "concise", ".")
    assert result.returncode == 0, f"ruff check found:\n{result.stdout}{result.stderr}"
