"""compose/docker-compose.yml (and compose/docker-compose.cluster.yml) as data: loaded with PyYAML and
interpolated the way Compose does
(`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$VAR`, `$$`),
with the values of compose/.env.example. No Docker needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
CLUSTER_FILE = COMPOSE_DIR / "docker-compose.cluster.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"

_VARIABLE = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_][A-Za-z0-9_]*))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?)(?P<arg>.*))?$", re.S)


class MissingVariable(ValueError):
    """A `${VAR:?message}` whose variable is unset: Compose would refuse to start."""


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        env[name.strip()] = value.strip()
    return env


def interpolate(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match["escaped"]:
            return "$"
        if match["named"]:
            return env.get(match["named"], "")
        braced = _BRACED.match(match["braced"])
        if braced is None:
            raise ValueError(f"invalid interpolation ${{{match['braced']}}}")
        name, op, arg = braced["name"], braced["op"], braced["arg"] or ""
        current = env.get(name)
        if op == ":-":
            return current if current else interpolate(arg, env)
        if op == "-":
            return current if current is not None else interpolate(arg, env)
        if op in (":?", "?") and (current is None or (op == ":?" and current == "")):
            raise MissingVariable(f"{name}: {arg}")
        return current or ""

    return _VARIABLE.sub(replace, value)


def render(node, env: dict[str, str]):
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [render(item, env) for item in node]
    if isinstance(node, dict):
        return {key: render(value, env) for key, value in node.items()}
    return node


def load(env: dict[str, str] | None = None, path: Path = COMPOSE_FILE) -> dict:
    """A compose file (the single-node one by default) with anchors merged and variables
    interpolated (.env.example by default)."""
    raw = yaml.safe_load(path.read_text())
    return render(raw, read_env_file(ENV_EXAMPLE) if env is None else env)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the KEY=VALUE list form
        env = dict(item.split("=", 1) for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def python_services(compose: dict) -> dict[str, dict]:
    """Services built from our Python image (compose/Dockerfile, target app)."""
    return {name: svc for name, svc in compose["services"].items() if (svc.get("build") or {}).get("target") == "app"}


def bind_mounts(service: dict) -> dict[str, Path]:
    """container path -> host path (resolved against compose/) of every bind-mounted file or dir."""
    mounts = {}
    for volume in service.get("volumes") or []:
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (COMPOSE_DIR / source).resolve()
    return mounts


def named_volumes(service: dict) -> dict[str, str]:
    """volume name -> container path."""
    result = {}
    for volume in service.get("volumes") or []:
        source, target = volume.split(":")[:2]
        if not source.startswith((".", "/")):
            result[source] = target
    return result


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[-1])
