"""The cluster topology as the tests drive it: stack/cluster.sh for processes and links, and the
engines' own APIs (Elasticsearch's, Patroni's) for what the cluster says about itself.

Everything is contacted at the hosts' private addresses on the stack's bridge."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass

import requests

from tests.conftest import ROOT

SCRIPT = ROOT / "stack" / "cluster.sh"
SUBNET = os.environ.get("CLUSTER_SUBNET", "10.77.0")
ES_HOSTS = ("es1", "es2", "es3")
PG_HOSTS = ("pg1", "pg2", "pg3")
APP_HOSTS = ("app1", "app2")
NGINX = f"http://{SUBNET}.40:8080"
PATRONI_PORT = 8008


def address(host: str) -> str:
    kind, number = host[:-1], host[-1]
    return {"es": f"{SUBNET}.1{number}", "pg": f"{SUBNET}.2{number}", "app": f"{SUBNET}.3{number}"}[kind]


# Only the stack's own settings reach the cluster's processes: the suite's (DJANGO_SETTINGS_MODULE of
# the test settings, say) belong to the single-node test stack. What installing packages needs goes
# along too (a proxy, its CA bundle, a package index): the first `up` installs Patroni from PyPI.
_PASSED_ON = (
    *("PATH", "HOME", "LANG", "STACK_HOME", "STACK_CACHE", "STACK_LOGS", "CLUSTER_SUBNET", "ES_HEAP"),
    *("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "PIP_CERT", "PIP_INDEX_URL", "UV_INDEX_URL"),
    *("UV_NATIVE_TLS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"),
)


def cluster(*args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {name: os.environ[name] for name in _PASSED_ON if name in os.environ}
    result = subprocess.run(
        [str(SCRIPT), *args], cwd=ROOT, timeout=timeout, capture_output=True, text=True, env={**env, "APP_ENV": "test"}
    )
    if check and result.returncode != 0:
        raise AssertionError(f"stack/cluster.sh {' '.join(args)} exited {result.returncode}: {result.stderr[-2000:]}")
    return result


def manage(*args: str, host: str = "app1", check: bool = True) -> subprocess.CompletedProcess:
    """A management command on an app host, as an operator would run it there."""
    return cluster("exec", host, str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "manage.py"), *args, check=check)


def in_app_host(module: str, *args: str, host: str = "app1") -> dict:
    """A Python module of the tests run on an app host with its settings; its stdout is JSON."""
    env_file = cluster("env", host).stdout.split()
    result = cluster(
        "exec",
        host,
        "env",
        *env_file,
        "DJANGO_SETTINGS_MODULE=write_service.settings.base",
        f"PYTHONPATH={ROOT}",
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        module,
        *args,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def kill(host: str, *components: str) -> None:
    cluster("kill", host, *components)


def start(host: str, *components: str) -> None:
    cluster("start", host, *components)


def link(host: str, state: str) -> None:
    cluster("link", host, state)


def wait_until(predicate, timeout: float, message: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if value := predicate():
                return value
        except (requests.RequestException, ValueError, KeyError, RuntimeError):  # not answering yet
            pass
        time.sleep(interval)
    raise AssertionError(f"{message}: not within {timeout:.0f}s")


# ---------------------------------------------------------------- Elasticsearch
def es_get(path: str, hosts=ES_HOSTS, timeout: float = 3) -> dict | list:
    """The first answer of any of `hosts`."""
    last: Exception | None = None
    for host in hosts:
        try:
            response = requests.get(f"http://{address(host)}:9200{path}", timeout=timeout)
            response.raise_for_status()
            return response.json()
        except requests.RequestException as exc:
            last = exc
    raise requests.ConnectionError(f"no Elasticsearch node answered {path}: {last}")


def es_health(hosts=ES_HOSTS) -> dict:
    return es_get("/_cluster/health", hosts)


def es_wait_green(timeout: float = 180, nodes: int = 3) -> float:
    started = time.monotonic()
    wait_until(
        lambda: (h := es_health()) and h["status"] == "green" and h["number_of_nodes"] == nodes,
        timeout,
        f"Elasticsearch green with {nodes} nodes",
    )
    return time.monotonic() - started


def es_node_with_most_primaries(prefix: str = "test_") -> str:
    shards = es_get("/_cat/shards?format=json&h=index,prirep,node")
    counts = {host: 0 for host in ES_HOSTS}
    for shard in shards:
        if shard["index"].startswith(prefix) and shard["prirep"] == "p" and shard.get("node") in counts:
            counts[shard["node"]] += 1
    return max(counts, key=counts.get)


def es_master_seen_by(host: str) -> str | None:
    try:
        answer = es_get("/_cat/master?format=json", hosts=(host,), timeout=2)
    except requests.RequestException:
        return None
    return answer[0]["node"] if answer else None


# ---------------------------------------------------------------- Patroni
@dataclass
class Members:
    leader: str | None
    sync_standby: str | None
    replicas: list[str]
    raw: dict


def patroni_members(hosts=PG_HOSTS) -> Members:
    for host in hosts:
        try:
            raw = requests.get(f"http://{address(host)}:{PATRONI_PORT}/cluster", timeout=2).json()
        except requests.RequestException:
            continue
        roles = {m["name"]: m["role"] for m in raw["members"] if m.get("state") in ("running", "streaming")}
        leader = next((n for n, r in roles.items() if r == "leader"), None)
        sync = next((n for n, r in roles.items() if r == "sync_standby"), None)
        return Members(leader, sync, [n for n, r in roles.items() if r in ("replica", "sync_standby")], raw)
    raise AssertionError("no Patroni member answered")


def wait_for_leader_with_sync(timeout: float = 120, other_than: str | None = None) -> Members:
    return wait_until(
        lambda: (m := patroni_members()) and m.leader and m.leader != other_than and m.sync_standby and m,
        timeout,
        "a Patroni leader with a synchronous standby",
    )


def psql(host: str, sql: str, db: str = "assessments_test") -> str:
    """A query on one node directly, as the superuser on the host's local socket."""
    socket_dir = f"{os.environ.get('STACK_HOME', '/var/lib/cqrs-stack')}/cluster/{host}/pgrun"
    result = cluster(
        "exec",
        host,
        "runuser",
        "-u",
        "postgres",
        "--",
        "psql",
        "-X",
        "-h",
        socket_dir,
        "-d",
        db,
        "-tAc",
        sql,
        check=False,
        timeout=30,
    )
    if result.returncode != 0:
        raise RuntimeError(f"psql on {host}: {result.stderr.strip()}")
    return result.stdout.strip()
