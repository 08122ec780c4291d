"""`docker compose config` accepts compose/ and its cluster file, where a
Compose v2 client exists.

Apart from tests/deployment/test_compose.py because it needs the client that bin/test installs
(compose/compose-cli.sh), so it is not part of the fast tier (`bin/test --fast`).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from tests.deployment.compose_file import CLUSTER_FILE, COMPOSE_FILE, ENV_EXAMPLE, environment, load


def _compose_command() -> list[str] | None:
    """A Compose v2 client: $DOCKER_COMPOSE, the `docker compose` plugin, the binary that
    compose/compose-cli.sh installs, or a docker-compose v2 on PATH."""
    if os.environ.get("DOCKER_COMPOSE"):
        return os.environ["DOCKER_COMPOSE"].split()
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return ["docker", "compose"]
    installed = os.path.join(
        os.environ.get("STACK_CACHE", "/var/cache/cqrs-stack"), "docker", "cli-plugins", "docker-compose"
    )
    for candidate in (installed, shutil.which("docker-compose")):
        if candidate and os.path.exists(candidate):
            version = subprocess.run([candidate, "version"], capture_output=True, text=True).stdout
            if "v2." in version:
                return [candidate]
    return None


@pytest.mark.parametrize("path", [COMPOSE_FILE, CLUSTER_FILE], ids=lambda path: path.name)
def test_docker_compose_config_accepts_the_file(path):
    compose = load(path=path)
    command = _compose_command()
    if command is None:
        pytest.skip(
            "no Docker Compose v2 client here (`docker compose`, docker-compose v2, $DOCKER_COMPOSE; "
            "compose/compose-cli.sh installs one): the structural checks of test_compose.py still ran"
        )
    # A clean environment: Compose lets the shell's variables (PG_DB of a test namespace, say)
    # win over --env-file, and this checks the file with .env.example alone.
    env = {key: os.environ[key] for key in ("PATH", "HOME", "DOCKER_CONFIG") if key in os.environ}
    result = subprocess.run(
        [*command, "-f", str(path), "--env-file", str(ENV_EXAMPLE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    rendered = yaml.safe_load(result.stdout)
    assert set(rendered["services"]) == set(compose["services"])
    # Compose's own interpolation agrees with ours for every service environment.
    for name, svc in compose["services"].items():
        ours = environment(svc)
        theirs = {key: str(value) for key, value in (rendered["services"][name].get("environment") or {}).items()}
        assert theirs == ours, name
