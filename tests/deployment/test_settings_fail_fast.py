"""Production settings fail fast with one clear sentence, never a traceback.

`manage.py` and Gunicorn (write_service.wsgi) are run as an operator would, in a clean
environment: the compose file's production environment minus one required variable.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shared.config import _PRODUCTION_REQUIRED
from tests.deployment.compose_file import ROOT, environment, load

pytestmark = pytest.mark.fast  # no server: bin/test --fast


@pytest.fixture(scope="module")
def production_env() -> dict[str, str]:
    return environment(load()["services"]["write"])


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(list(args), cwd=ROOT, env=clean, capture_output=True, text=True, timeout=timeout)


def _assert_one_sentence(stderr: str, *names: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    sentence = lines[0]
    assert sentence.endswith("."), sentence
    for name in names:
        assert name in sentence, sentence


@pytest.mark.parametrize("missing", _PRODUCTION_REQUIRED)
def test_manage_py_check_names_the_missing_variable(production_env, missing):
    env = {k: v for k, v in production_env.items() if k != missing}
    result = _run(env, sys.executable, "manage.py", "check")
    assert result.returncode != 0
    _assert_one_sentence(result.stderr, missing)


def test_manage_py_with_nothing_set_lists_everything_in_one_sentence():
    result = _run({"APP_ENV": "production"}, sys.executable, "manage.py", "check")
    assert result.returncode != 0
    _assert_one_sentence(result.stderr, *_PRODUCTION_REQUIRED)


def test_a_variable_without_a_production_default_fails_the_same_way(production_env):
    # Not in _PRODUCTION_REQUIRED, but production has no per-environment default for it.
    env = {k: v for k, v in production_env.items() if k != "ES_INDEX_PREFIX"}
    result = _run(env, sys.executable, "manage.py", "check")
    assert result.returncode != 0
    _assert_one_sentence(result.stderr, "ES_INDEX_PREFIX")


def test_the_complete_environment_passes(production_env):
    result = _run(production_env, sys.executable, "manage.py", "check")
    assert result.returncode == 0, result.stderr[-3000:]


def test_gunicorn_stops_with_the_sentence_instead_of_respawning_workers(production_env):
    env = {k: v for k, v in production_env.items() if k != "SECRET_KEY"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    result = _run(
        {**env, "GUNICORN_BIND": "127.0.0.1:0", "GUNICORN_WORKERS": "1"},
        gunicorn,
        "-c",
        "write_service/gunicorn.conf.py",
        "--no-control-socket",
        "write_service.wsgi:application",
        timeout=60,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert "Missing required production setting(s): SECRET_KEY." in output
    assert "App failed to load" in output  # the arbiter halted; it did not respawn workers forever
