"""The benchmark's processes: the product's own (stack/apps.sh and stack/nginx.sh under the bench
namespace) and the extra Gunicorn instances of the baselines, each with the product's
gunicorn.conf.py and code.

Every process started here is stopped by `ProcessSet.stop_all()` (main.py calls it in a finally):
apps.sh components by `apps.sh stop`, NGINX by `nginx.sh stop`, extra instances by signalling
their own process group (they are started in a new session), never by name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

from bench import namespace
from bench.http_health import wait_healthy

APPS = ("write", "search", "worker-indexing", "worker-fanout", "worker-counters", "beat", "listener")
NGINX_PORT = 8508  # the bench namespace's NGINX (stack/nginx.sh) in front of its write and search ports
WORKERS = ("worker-indexing", "worker-fanout", "worker-counters", "beat", "listener")


@dataclass(frozen=True)
class Instance:
    """One extra Gunicorn instance: which app, which port, which environment differences."""

    name: str
    port: int
    app: str
    env: dict = field(default_factory=dict)
    health_path: str = "/health/live"


EXTRA_INSTANCES = (
    Instance("orm-baseline", namespace.ORM_PORT, "bench.orm_baseline.wsgi:application"),
    # Its phase of hot_counter runs with capture off (database.capture_disabled): the baseline has no pipeline.
    Instance(
        "write-naive-counters",
        namespace.WRITE_NAIVE_PORT,
        "write_service.wsgi:application",
        {"NAIVE_COUNTER_UPDATES": "true"},
    ),
    Instance(
        "write-direct",
        namespace.WRITE_DIRECT_PORT,
        "write_service.wsgi:application",
        {
            "DB_VIA_PGBOUNCER": "false",
            "DJANGO_SETTINGS_MODULE": "bench.conn_max_age_settings",
            "BENCH_CONN_MAX_AGE": "0",
        },
    ),
    Instance(
        "write-direct-persistent",
        namespace.WRITE_DIRECT_PERSISTENT_PORT,
        "write_service.wsgi:application",
        {"DB_VIA_PGBOUNCER": "false"},
    ),
    Instance(
        "write-no-tokens",
        namespace.WRITE_NO_TOKENS_PORT,
        "write_service.wsgi:application",
        {"CONSISTENCY_TOKENS": "false"},
    ),
    Instance(
        "write-tokens",
        namespace.WRITE_TOKENS_PORT,
        "write_service.wsgi:application",
        {"CONSISTENCY_TOKENS": "true"},
    ),
    Instance(
        "write-pgbouncer-persistent",
        namespace.WRITE_PGBOUNCER_PERSISTENT_PORT,
        "write_service.wsgi:application",
        {
            "DB_VIA_PGBOUNCER": "true",
            "DJANGO_SETTINGS_MODULE": "bench.conn_max_age_settings",
            "BENCH_CONN_MAX_AGE": "60",
        },
    ),
)


def apps(action: str, *components: str) -> None:
    subprocess.run(
        [str(namespace.ROOT / "stack" / "apps.sh"), action, *components],
        check=True,
        cwd=namespace.ROOT,
        env={**os.environ, **namespace.ENV},
    )


def nginx(action: str) -> None:
    subprocess.run(
        [str(namespace.ROOT / "stack" / "nginx.sh"), action],
        check=True,
        cwd=namespace.ROOT,
        env={**os.environ, **namespace.ENV, "NGINX_PORT": str(NGINX_PORT)},
    )


def nginx_pid() -> int | None:
    """NGINX's master: a session of its own (stack/nginx.sh), its workers in its process group."""
    try:
        return int(
            (namespace.STACK_HOME / "nginx" / namespace.ENV["STACK_NAMESPACE"] / "nginx.pid").read_text().strip()
        )
    except (OSError, ValueError):
        return None


def app_pid(component: str) -> int | None:
    pid_file = namespace.RUN_DIR / f"{component}.pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


class ProcessSet:
    def __init__(self) -> None:
        self.extra: dict[str, subprocess.Popen] = {}
        self.apps_started = False
        self.paused: list[int] = []

    def stop_leftovers(self) -> None:
        """Processes of an interrupted run: apps.sh's by its pid files, ours by the ones we wrote."""
        apps("stop", *APPS)
        nginx("stop")
        for pid_file in namespace.RUN_DIR.glob("extra-*.pid"):
            try:
                pid = int(pid_file.read_text().strip())
                os.killpg(pid, signal.SIGTERM)
                for _ in range(100):
                    os.killpg(pid, 0)
                    time.sleep(0.1)
                os.killpg(pid, signal.SIGKILL)
            except (ValueError, ProcessLookupError, PermissionError):
                pass
            pid_file.unlink(missing_ok=True)

    def start_apps(self) -> None:
        # restart: a process left by an interrupted run would serve old code or old data.
        apps("restart", *APPS)
        self.apps_started = True
        apps("start", *APPS)
        nginx("restart")  # what users hit: the api_vs_raw stage measures the API through it too

    def start_extra(self, instances=EXTRA_INSTANCES) -> None:
        namespace.LOG_DIR.mkdir(parents=True, exist_ok=True)
        for instance in instances:
            prometheus_dir = namespace.RUN_DIR / f"prometheus-{instance.name}"
            prometheus_dir.mkdir(parents=True, exist_ok=True)
            env = {
                **os.environ,
                **namespace.ENV,
                "WRITE_PORT": str(instance.port),
                "PROMETHEUS_MULTIPROC_DIR": str(prometheus_dir),
                **instance.env,
            }
            log = open(namespace.LOG_DIR / f"{instance.name}.log", "ab")
            self.extra[instance.name] = subprocess.Popen(
                [
                    str(namespace.VENV_BIN / "gunicorn"),
                    "-c",
                    str(namespace.ROOT / "write_service" / "gunicorn.conf.py"),
                    instance.app,
                ],
                cwd=namespace.ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            (namespace.RUN_DIR / f"extra-{instance.name}.pid").write_text(str(self.extra[instance.name].pid))
        for instance in instances:
            wait_healthy(
                namespace.url(instance.port) + instance.health_path,
                90,
                process=self.extra[instance.name],
                log=namespace.LOG_DIR / f"{instance.name}.log",
            )

    def start_floor(self, captured: dict) -> None:
        """bench/proxy_floor on FLOOR_PORT, answering the captured Elasticsearch requests per API path."""
        requests_file = namespace.RUN_DIR / "floor_requests.json"
        requests_file.write_text(json.dumps(captured))
        env = {**os.environ, **namespace.ENV, "FLOOR_REQUESTS": str(requests_file)}
        log = open(namespace.LOG_DIR / "floor.log", "ab")
        self.extra["floor"] = subprocess.Popen(
            [str(namespace.VENV_BIN / "python"), "-m", "bench.proxy_floor", str(namespace.FLOOR_PORT)],
            cwd=namespace.ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        (namespace.RUN_DIR / "extra-floor.pid").write_text(str(self.extra["floor"].pid))
        wait_healthy(
            namespace.url(namespace.FLOOR_PORT) + "/health",
            90,
            process=self.extra["floor"],
            log=namespace.LOG_DIR / "floor.log",
        )

    def start_search_variant(self, name: str, port: int, env: dict) -> None:
        """One more search API under Granian (search_api/server.py), like the product's but for `env`."""
        prometheus_dir = namespace.RUN_DIR / f"prometheus-{name}"
        prometheus_dir.mkdir(parents=True, exist_ok=True)
        log_path = namespace.LOG_DIR / f"{name}.log"
        self.extra[name] = subprocess.Popen(
            [str(namespace.VENV_BIN / "python"), "-m", "search_api.server"],
            cwd=namespace.ROOT,
            env={
                **os.environ,
                **namespace.ENV,
                "SEARCH_PORT": str(port),
                "PROMETHEUS_MULTIPROC_DIR": str(prometheus_dir),
                **env,
            },
            stdout=open(log_path, "ab"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        (namespace.RUN_DIR / f"extra-{name}.pid").write_text(str(self.extra[name].pid))
        wait_healthy(namespace.url(port) + "/search/health/live", 90, process=self.extra[name], log=log_path)

    def groups(self) -> dict[str, int]:
        """Process group ids of everything we run, by name (for CPU accounting)."""
        found = {name: process.pid for name, process in self.extra.items()}
        for component in APPS:
            pid = app_pid(component)
            if pid:
                found[component] = pid
        if self.apps_started and (pid := nginx_pid()):
            found["nginx"] = pid
        return found

    def pause_workers(self) -> None:
        """SIGSTOP the Celery workers' process groups (instant, nothing lost: tasks wait in Redis)."""
        for component in ("worker-indexing", "worker-fanout", "worker-counters"):
            pid = app_pid(component)
            if pid:
                os.killpg(pid, signal.SIGSTOP)
                self.paused.append(pid)

    def resume_workers(self) -> None:
        while self.paused:
            os.killpg(self.paused.pop(), signal.SIGCONT)

    def stop_all(self) -> None:
        self.resume_workers()
        for process in self.extra.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 20
        for process in self.extra.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for name in self.extra:
            (namespace.RUN_DIR / f"extra-{name}.pid").unlink(missing_ok=True)
        self.extra.clear()
        if self.apps_started:
            # One apps.sh per component, concurrently: each waits for its own graceful shutdown.
            stoppers = [
                subprocess.Popen(
                    [str(namespace.ROOT / "stack" / "apps.sh"), "stop", c],
                    cwd=namespace.ROOT,
                    env={**os.environ, **namespace.ENV},
                )
                for c in APPS
            ]
            for stopper in stoppers:
                stopper.wait()
            nginx("stop")
            self.apps_started = False
