"""`bench/cluster --scale small|full`: the cluster topology against the single-node stack, on the
same machine in the same run. Both serve the test data set (APP_ENV=test) through
their NGINX; each figure is measured on one, then the other, then again (two interleaved pairs).

Figures: search throughput and p95 at 8 clients; write throughput and p99 at 8 clients (the
cluster with synchronous and with asynchronous replication); commit-to-searchable lag p50/p99 at a
steady write rate; rebuild (`reindex posts`) documents per second; an Elasticsearch node's restart
to green; the failover window (kill -9 of the primary to the first acknowledged write on the new
one). Writes bench/results/cluster.json and prints the table. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.loadgen import Request, run_wrk

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery"
SINGLE = "http://127.0.0.1:8180"  # stack/nginx.sh, APP_ENV=test
CLUSTER = "http://10.77.0.40:8080"  # stack/cluster.sh's NGINX


@dataclass(frozen=True)
class Scale:
    seconds: float  # per load run
    seed_posts: int
    lag_samples: int
    lag_rate: float  # writes per second beside the lag probes


SCALES = {"small": Scale(8, 300, 15, 10), "full": Scale(20, 3000, 40, 20)}


def sh(*args: str, env: dict | None = None, check: bool = True) -> str:
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise SystemExit(f"bench/cluster: {' '.join(args)} failed: {result.stderr[-1500:]}")
    return result.stdout


def cluster(*args: str, check: bool = True) -> str:
    return sh(str(ROOT / "stack" / "cluster.sh"), *args, env={"APP_ENV": "test"}, check=check)


def manage(topology: str, *args: str) -> str:
    python = str(ROOT / ".venv" / "bin" / "python")
    if topology == "cluster":
        return cluster("exec", "app1", python, str(ROOT / "manage.py"), *args)
    return sh(python, str(ROOT / "manage.py"), *args, env={"APP_ENV": "test", "PYTHONPATH": str(ROOT)})


def token(topology: str, base: str) -> str:
    name = f"bench-{uuid.uuid4().hex[:10]}"
    manage(topology, "create_org", name, "--admin", name, "--password", PASSWORD)
    response = requests.post(f"{base}/api/v1/auth/token", json={"username": name, "password": PASSWORD}, timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def seed(base: str, auth: dict, posts: int) -> None:
    def writer(count: int) -> None:
        session = requests.Session()
        for i in range(count):
            session.post(
                f"{base}/api/v1/posts",
                json={
                    "title": f"seed post {i} {uuid.uuid4().hex[:6]}",
                    "body": "benchmark corpus about sql and python",
                },
                headers=auth,
                timeout=10,
            ).raise_for_status()

    threads = [threading.Thread(target=writer, args=(posts // 8,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def search_run(label: str, base: str, auth: dict, seconds: float) -> dict:
    paths = ["/search/v1/posts?page_size=20&ordering=-created_at", "/search/v1/posts?q=python&page_size=10"]
    result = run_wrk(label, base, [Request("GET", p, auth) for p in paths], connections=8, duration=seconds, warmup=2)
    return {"rps": result.rps, "p95_ms": result.p95_ms, "errors": result.errors}


def write_run(label: str, base: str, auth: dict, seconds: float) -> dict:
    body = json.dumps({"title": "bench write", "body": "measured"})
    headers = {**auth, "Content-Type": "application/json"}
    result = run_wrk(
        label, base, [Request("POST", "/api/v1/posts", headers, body)], connections=8, duration=seconds, warmup=2
    )
    return {"rps": result.rps, "p99_ms": result.p99_ms, "errors": result.errors}


def lag_run(base: str, auth: dict, samples: int, rate: float) -> dict:
    """Seconds from a write's 201 to its first appearance in search, beside a steady write rate."""
    stop = threading.Event()

    def background() -> None:
        session = requests.Session()
        while not stop.is_set():
            started = time.monotonic()
            session.post(f"{base}/api/v1/posts", json={"title": "steady", "body": "x"}, headers=auth, timeout=10)
            stop.wait(max(0.0, 1 / rate - (time.monotonic() - started)))

    thread = threading.Thread(target=background, daemon=True)
    thread.start()
    values = []
    try:
        for _ in range(samples):
            word = f"lag{uuid.uuid4().hex[:12]}"
            requests.post(
                f"{base}/api/v1/posts", json={"title": word, "body": "probe"}, headers=auth, timeout=10
            ).raise_for_status()
            acknowledged = time.monotonic()
            while requests.get(f"{base}/search/v1/posts?q={word}", headers=auth, timeout=10).json()["count"] != 1:
                time.sleep(0.02)
            values.append(time.monotonic() - acknowledged)
    finally:
        stop.set()
        thread.join()
    values.sort()
    return {
        "p50_s": round(values[len(values) // 2], 3),
        "p99_s": round(values[min(len(values) - 1, int(len(values) * 0.99))], 3),
    }


def rebuild_run(topology: str) -> dict:
    started = time.monotonic()
    output = manage(topology, "reindex", "posts")
    seconds = time.monotonic() - started
    # rebuild.RebuildReport.summary(): "<alias>: loaded N documents in S s (R docs/s)..."
    found = re.search(r"loaded ([\d,]+) documents in ([\d.]+) s \(([\d,]+) docs/s\)", output)
    if not found:
        raise SystemExit(f"bench/cluster: no rebuild summary in {output[-500:]!r}")
    return {
        "seconds": round(seconds, 2),
        "documents": int(found.group(1).replace(",", "")),
        "load_seconds": float(found.group(2)),
        "docs_per_second": float(found.group(3).replace(",", "")),
    }


def restart_to_green() -> float:
    cluster("stop-es", "es2")
    started = time.monotonic()
    cluster("start", "es2")
    cluster("es-wait-green", "180")
    return round(time.monotonic() - started, 1)


def set_synchronous(enabled: bool) -> None:
    cluster("patronictl", "edit-config", "--set", f"synchronous_mode={'true' if enabled else 'false'}", "--force")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        members = json.loads(
            cluster("exec", "pg1", "curl", "-fsS", "http://10.77.0.21:8008/cluster", check=False) or "{}"
        )
        has_sync = any(m["role"] == "sync_standby" for m in members.get("members", []))
        if has_sync == enabled:
            return
        time.sleep(1)
    raise SystemExit(f"bench/cluster: synchronous_mode={enabled} did not take effect in 60 s")


def failover_window(base: str, auth: dict) -> float:
    members = json.loads(cluster("exec", "pg1", "curl", "-fsS", "http://10.77.0.21:8008/cluster"))["members"]
    leader = next(m["name"] for m in members if m["role"] == "leader")
    killed = time.time()
    cluster("kill", leader, "patroni", "postgres")
    while True:
        try:
            if (
                requests.post(
                    f"{base}/api/v1/posts", json={"title": "after", "body": "x"}, headers=auth, timeout=5
                ).status_code
                == 201
            ):
                break
        except requests.RequestException:
            pass
        time.sleep(0.2)
    window = round(time.time() - killed, 1)
    cluster("start", leader, "patroni")
    cluster("pg-wait-leader", "120")
    return window


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench/cluster", description=__doc__)
    parser.add_argument("--scale", choices=SCALES, required=True)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "cluster.json")
    args = parser.parse_args()
    scale = SCALES[args.scale]
    bases = {"single": SINGLE, "cluster": CLUSTER}
    print("== bring up both topologies (APP_ENV=test)", flush=True)
    sh(str(ROOT / "bin" / "stack"), "up")
    # The per-token rate limit (600 a minute) would answer most of a load run with 429s.
    unlimited = {"APP_ENV": "test", "SEARCH_RATE_LIMIT": "1000000000"}
    sh(str(ROOT / "stack" / "apps.sh"), "start", env=unlimited)
    sh(str(ROOT / "stack" / "apps.sh"), "restart", "search", env=unlimited)
    sh(str(ROOT / "stack" / "nginx.sh"), "start", env={"APP_ENV": "test"})
    cluster("up")
    for host in ("app1", "app2"):
        sh(
            str(ROOT / "stack" / "cluster.sh"),
            "exec",
            host,
            str(ROOT / "stack" / "apps.sh"),
            "restart",
            "search",
            env=unlimited,
        )
    auth = {name: {"Authorization": f"Token {token(name, base)}"} for name, base in bases.items()}
    print(f"== seed {scale.seed_posts} posts in each", flush=True)
    for name, base in bases.items():
        seed(base, auth[name], scale.seed_posts)
    time.sleep(3)

    figures: dict = {"scale": args.scale, "search": {}, "writes": {}, "lag": {}, "rebuild": {}}
    for round_ in (1, 2):  # two interleaved pairs
        for name, base in bases.items():
            print(f"== round {round_}: {name}", flush=True)
            figures["search"].setdefault(name, []).append(search_run(f"search {name}", base, auth[name], scale.seconds))
            figures["writes"].setdefault(name, []).append(write_run(f"writes {name}", base, auth[name], scale.seconds))
            figures["lag"].setdefault(name, []).append(lag_run(base, auth[name], scale.lag_samples, scale.lag_rate))
    for name in bases:
        figures["rebuild"][name] = rebuild_run(name)
    print("== the cluster with asynchronous replication", flush=True)
    set_synchronous(False)
    try:
        figures["writes"]["cluster_async"] = [
            write_run("writes cluster async", CLUSTER, auth["cluster"], scale.seconds) for _ in (1, 2)
        ]
    finally:
        set_synchronous(True)
    print("== node restart to green, failover window", flush=True)
    figures["es_restart_to_green_s"] = restart_to_green()
    figures["failover_window_s"] = failover_window(CLUSTER, auth["cluster"])

    def mean(kind: str, name: str, key: str) -> float:
        values = [run[key] for run in figures[kind][name]]
        return round(sum(values) / len(values), 3)

    figures["ratios"] = {
        "search_rps_cluster_over_single": ratio(mean("search", "cluster", "rps"), mean("search", "single", "rps")),
        "search_p95_cluster_over_single": ratio(
            mean("search", "cluster", "p95_ms"), mean("search", "single", "p95_ms")
        ),
        "writes_rps_cluster_over_single": ratio(mean("writes", "cluster", "rps"), mean("writes", "single", "rps")),
        "writes_rps_sync_over_async": ratio(mean("writes", "cluster", "rps"), mean("writes", "cluster_async", "rps")),
        "writes_p99_sync_over_async": ratio(
            mean("writes", "cluster", "p99_ms"), mean("writes", "cluster_async", "p99_ms")
        ),
        "lag_p99_cluster_over_single": ratio(mean("lag", "cluster", "p99_s"), mean("lag", "single", "p99_s")),
        "rebuild_docs_per_second_cluster_over_single": ratio(
            figures["rebuild"]["cluster"]["docs_per_second"], figures["rebuild"]["single"]["docs_per_second"]
        ),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
