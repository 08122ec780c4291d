"""compose/ validated against the settings and against the native stack.

The structural checks always run (PyYAML only): every production variable of shared/config.py is
set for every Python service, and those settings really load; every service has a health check
(the one-shot migrate job is awaited by exit code instead); start order waits for health; ports
and volumes agree between services; the NGINX, pgBouncer, Redis, PostgreSQL and Gunicorn files
are the native stack's own. `docker compose config` is tests/deployment/test_compose_cli.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from read_indexer.task_names import ALL_QUEUES
from shared import config as shared_config
from tests.deployment.compose_file import (
    COMPOSE_DIR,
    COMPOSE_FILE,
    ENV_EXAMPLE,
    ROOT,
    MissingVariable,
    bind_mounts,
    environment,
    load,
    named_volumes,
    port_of,
    python_services,
    read_env_file,
)

pytestmark = pytest.mark.fast  # no server: bin/test --fast

STACK_CONF = ROOT / "stack" / "conf"
ONE_SHOT = {"migrate"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load()


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict]:
    return compose["services"]


def test_the_expected_services_exist(services):
    expected = {
        "postgres-primary",
        "postgres-replica",
        "pgbouncer",
        "redis",
        "elasticsearch",
        "migrate",
        "write",
        "search",
        "worker-indexing",
        "worker-fanout",
        "worker-counters",
        "beat",
        "listener",
        "nginx",
    }
    assert expected <= set(services), f"missing: {sorted(expected - set(services))}"
    assert set(python_services({"services": services})) == {
        "migrate",
        "write",
        "search",
        "worker-indexing",
        "worker-fanout",
        "worker-counters",
        "beat",
        "listener",
    }


def test_secrets_have_no_defaults_in_the_compose_file():
    # Without compose/.env the file must refuse to render, naming what is missing.
    with pytest.raises(MissingVariable) as excinfo:
        load(env={})
    assert "compose/.env" in str(excinfo.value)


# --- settings ------------------------------------------------------------------------------------


def _required_in_production() -> set[str]:
    """_PRODUCTION_REQUIRED plus every variable whose only default is per-environment (none in production)."""
    per_env = {name for defaults in shared_config._ENV_DEFAULTS.values() for name in defaults}
    return set(shared_config._PRODUCTION_REQUIRED) | (per_env - set(shared_config._ENV_DEFAULTS["production"]))


@pytest.mark.parametrize(
    "name", ["migrate", "write", "search", "worker-indexing", "worker-fanout", "worker-counters", "beat", "listener"]
)
def test_every_python_service_sets_every_production_variable(services, name, monkeypatch):
    env = environment(services[name])
    assert env.get("APP_ENV") == "production"
    missing = sorted(var for var in _required_in_production() if not env.get(var))
    assert not missing, f"{name} lacks production settings {missing}"
    # And the settings really load with exactly this environment (nothing inherited from ours).
    for var in list(os.environ):
        monkeypatch.delenv(var)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    config = shared_config.load_config()
    assert config.app_env == "production"
    assert config.pg_host in services and config.pg_replica_host in services
    assert urlsplit(config.redis_url).hostname in services and urlsplit(config.es_url).hostname in services


def _run_with_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120)


def test_write_service_settings_pass_django_checks_with_the_compose_environment(services):
    result = _run_with_env(environment(services["write"]), "manage.py", "check")
    assert result.returncode == 0, result.stderr[-3000:]


def test_search_api_settings_load_with_the_compose_environment(services):
    if not (ROOT / "search_api" / "settings.py").exists():
        pytest.skip("search_api/settings.py does not exist yet")
    env = environment(services["search"])
    result = _run_with_env(
        env, "-c", "import django; django.setup(); from django.conf import settings; print(settings.APP_ENV)"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("production")
    assert env["DJANGO_SETTINGS_MODULE"] == "search_api.settings"


# --- health, start order, restarts, limits --------------------------------------------------------


def test_every_long_running_service_has_a_health_check(services):
    for name, svc in services.items():
        if name in ONE_SHOT:
            continue
        test = (svc.get("healthcheck") or {}).get("test")
        assert test and test != ["NONE"] and not svc["healthcheck"].get("disable"), f"{name} has no health check"


def test_one_shot_jobs_are_awaited_by_exit_code(services):
    for name in ONE_SHOT:
        assert services[name].get("restart") == "no", f"{name} must not be restarted after it succeeded"
        awaited_by = [
            other
            for other, svc in services.items()
            if (svc.get("depends_on") or {}).get(name, {}).get("condition") == "service_completed_successfully"
        ]
        assert awaited_by, f"nothing waits for {name}"


def test_start_order_waits_for_health(services):
    for name, svc in services.items():
        depends_on = svc.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a bare list"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            if target in ONE_SHOT:
                assert spec.get("condition") == "service_completed_successfully", (name, target)
            else:
                assert spec.get("condition") == "service_healthy", (name, target)
                assert services[target].get("healthcheck"), f"{name} waits for {target}, which has no health check"


def test_app_processes_wait_for_the_migrations(services):
    for name in ("write", "search", "worker-indexing", "worker-fanout", "worker-counters", "beat", "listener"):
        assert "migrate" in services[name]["depends_on"], name
    assert set(services["nginx"]["depends_on"]) == {"write", "search"}


def test_restart_policies_and_resource_limits(services):
    for name, svc in services.items():
        if name not in ONE_SHOT:
            assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), (
                f"{name}: restart={svc.get('restart')}"
            )
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        assert limits.get("cpus") and limits.get("memory"), f"{name} has no cpu/memory limit"


def test_exactly_one_beat(services):
    beats = [name for name, svc in services.items() if " beat" in " ".join(map(str, svc.get("command") or []))]
    assert beats == ["beat"]
    assert services["beat"]["deploy"].get("replicas", 1) == 1


# --- ports --------------------------------------------------------------------------------------


def _health_url_port(svc: dict) -> int:
    test = " ".join(svc["healthcheck"]["test"])
    return int(re.search(r"http://127\.0\.0\.1:(\d+)/", test).group(1))


def test_app_server_ports_agree_with_nginx_health_checks_and_expose(services):
    nginx_env = environment(services["nginx"])
    for name, upstream, bind in (
        ("write", "NGINX_WRITE_UPSTREAM", "GUNICORN_BIND"),
        ("search", "NGINX_SEARCH_UPSTREAM", "SEARCH_BIND"),
    ):  # search_api/server.py
        svc = services[name]
        bind_port = port_of(environment(svc)[bind])
        host, _, port = nginx_env[upstream].rpartition(":")
        assert host == name, f"NGINX must address the {name} service by name, not {host}"
        assert int(port) == bind_port == _health_url_port(svc), name
        assert str(bind_port) in [str(p) for p in svc.get("expose", [])], name


def test_only_nginx_publishes_a_port_and_it_is_the_one_nginx_listens_on(services):
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"nginx"}
    nginx = services["nginx"]
    (mapping,) = nginx["ports"]
    container_port = int(str(mapping).rsplit(":", 1)[-1])
    assert container_port == int(environment(nginx)["NGINX_LISTEN"]) == _health_url_port(nginx)


def test_database_redis_and_elasticsearch_addresses_agree(services):
    pgbouncer = environment(services["pgbouncer"])
    for name, svc in python_services({"services": services}).items():
        env = environment(svc)
        assert env["PGBOUNCER_PORT"] == pgbouncer["PGBOUNCER_PORT"], name
        if env.get("DB_VIA_PGBOUNCER", "true") == "true":
            assert env["PG_HOST"] == "pgbouncer", name
        else:
            assert env["PG_HOST"] == pgbouncer["PG_PRIMARY_HOST"] == "postgres-primary", name
        assert env["PG_PORT"] == env["PG_REPLICA_PORT"] == pgbouncer["PG_PRIMARY_PORT"] == "5432", name
        assert env["PG_REPLICA_HOST"] == "postgres-replica", name
        assert env["PG_DB"] == pgbouncer["PG_DB"] and env["PG_USER"] == pgbouncer["PG_USER"], name
        assert (
            env["PG_PASSWORD"] == pgbouncer["PG_PASSWORD"] == environment(services["postgres-primary"])["PG_PASSWORD"]
        )
        redis_url, es_url = urlsplit(env["REDIS_URL"]), urlsplit(env["ES_URL"])
        assert (redis_url.hostname, redis_url.port) == ("redis", 6379), name
        assert (es_url.hostname, es_url.port) == ("elasticsearch", 9200), name
    assert "6432" in services["pgbouncer"]["expose"] and "6379" in services["redis"]["expose"]
    assert "9200" in services["elasticsearch"]["expose"]


def test_worker_metrics_ports_are_exposed(services):
    for name in ("worker-indexing", "worker-fanout", "worker-counters"):
        bind = environment(services[name])["CELERY_METRICS_BIND"]
        assert str(port_of(bind)) in [str(p) for p in services[name]["expose"]], name


def test_forwarded_headers_are_trusted_from_the_compose_network_only(compose, services):
    (subnet,) = [c["subnet"] for c in compose["networks"]["backend"]["ipam"]["config"]]
    for name in ("write", "search"):
        assert environment(services[name])["FORWARDED_ALLOW_IPS"] == subnet
        assert services[name]["networks"] == ["backend"]


# --- volumes -----------------------------------------------------------------------------------


def test_named_volumes_are_declared_used_and_mounted_at_the_data_directories(compose, services):
    used = {volume: (name, path) for name, svc in services.items() for volume, path in named_volumes(svc).items()}
    assert set(used) == set(compose["volumes"]), "every declared volume is used, every used one declared"
    assert used["pg-primary-data"] == ("postgres-primary", "/var/lib/postgresql/data")
    assert used["pg-replica-data"] == ("postgres-replica", "/var/lib/postgresql/data")
    assert used["es-data"] == ("elasticsearch", "/usr/share/elasticsearch/data")
    redis_command = services["redis"]["command"]
    assert used["redis-data"] == ("redis", redis_command[redis_command.index("--dir") + 1])


def test_bind_mounted_files_exist_and_are_read_only(services):
    for name, svc in services.items():
        for volume in svc.get("volumes") or []:
            if volume.startswith((".", "/")):
                assert volume.endswith(":ro"), f"{name}: {volume} should be read-only"
        for target, source in bind_mounts(svc).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"


def test_metrics_directories_are_tmpfs_and_probes_stay_out_of_them(services):
    for name, svc in python_services({"services": services}).items():
        path = environment(svc)["PROMETHEUS_MULTIPROC_DIR"]
        assert any(str(mount).split(":")[0] == path for mount in svc.get("tmpfs") or []), name
        # A health probe that imports the Celery app would leave a sample file per run.
        probe = " ".join((svc.get("healthcheck") or {}).get("test") or [])
        if "celery -A" in probe:
            assert "env -u PROMETHEUS_MULTIPROC_DIR" in probe, name


# --- the same files as the native stack -----------------------------------------------------------


def test_nginx_runs_the_native_stacks_template(services):
    nginx = services["nginx"]
    mounts = bind_mounts(nginx)
    template, renderer = STACK_CONF / "nginx.conf", STACK_CONF / "nginx-render.sh"
    assert mounts.get("/etc/nginx/cqrs/nginx.conf") == template
    assert mounts.get("/etc/nginx/cqrs/nginx-render.sh") == renderer
    command = " ".join(nginx["command"])
    assert "nginx-render.sh /etc/nginx/cqrs/nginx.conf" in command and "nginx -p" in command
    native = (ROOT / "stack" / "nginx.sh").read_text()
    assert '"$STACK_ROOT/conf/nginx-render.sh" "$STACK_ROOT/conf/nginx.conf"' in native
    # Every placeholder of the template is given by compose and by the native script.
    placeholders = set(re.findall(r"\$\{(NGINX_[A-Z_]+)\}", template.read_text()))
    assert placeholders == {
        "NGINX_LISTEN",
        "NGINX_WRITE_UPSTREAM",
        "NGINX_SEARCH_UPSTREAM",
        "NGINX_STATIC_ROOT",
        "NGINX_DOCS_ROOT",
        "NGINX_ACCESS_LOG",
    }
    assert placeholders <= set(environment(nginx))
    exported = set(re.findall(r"\b(NGINX_[A-Z_]+)=", native))
    assert placeholders <= exported, f"stack/nginx.sh does not set {sorted(placeholders - exported)}"


def test_nginx_body_limit_is_the_write_apis():
    from django.conf import settings

    limit = re.search(r"^\s*client_max_body_size (\d+)k;", (STACK_CONF / "nginx.conf").read_text(), re.M)
    assert int(limit.group(1)) * 1024 == settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_pgbouncer_includes_the_native_stacks_settings(services):
    pgbouncer = services["pgbouncer"]
    mounts = bind_mounts(pgbouncer)
    assert mounts.get("/etc/pgbouncer/pgbouncer-common.ini") == STACK_CONF / "pgbouncer.ini"
    entrypoint = (COMPOSE_DIR / "pgbouncer" / "entrypoint.sh").read_text()
    assert "%include /etc/pgbouncer/pgbouncer-common.ini" in entrypoint
    native = (ROOT / "stack" / "pgbouncer.sh").read_text()
    assert 'cp "$STACK_ROOT/conf/pgbouncer.ini" "$RUN_DIR/pgbouncer-common.ini"' in native
    assert "%include $RUN_DIR/pgbouncer-common.ini" in native
    shared_ini = (STACK_CONF / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in shared_ini and "%(" not in shared_ini, "the shared file is no template"
    # Host-specific keys stay out of the shared file, so neither launcher can be overridden by it.
    for key in ("listen_addr", "listen_port", "auth_file", "logfile", "pidfile", "admin_users"):
        assert not re.search(rf"^{key}\s*=", shared_ini, re.M), key


def test_redis_and_postgres_use_the_native_stacks_files(services):
    redis = services["redis"]
    assert bind_mounts(redis).get("/usr/local/etc/redis/redis.conf") == STACK_CONF / "redis.conf"
    assert "/usr/local/etc/redis/redis.conf" in redis["command"]
    assert '"$STACK_ROOT/conf/redis.conf"' in (ROOT / "stack" / "redis.sh").read_text()
    for name in ("postgres-primary", "postgres-replica"):
        assert bind_mounts(services[name]).get("/etc/postgresql/cqrs.conf") == STACK_CONF / "postgresql.conf", name
    assert "include '/etc/postgresql/cqrs.conf'" in (COMPOSE_DIR / "postgres" / "primary-init.sh").read_text()
    assert '"$STACK_ROOT/conf/postgresql.conf"' in (ROOT / "stack" / "postgres.sh").read_text()


def test_app_servers_run_the_same_conf_files_as_the_native_stack(services):
    apps_sh = (ROOT / "stack" / "apps.sh").read_text()
    conf, app = "write_service/gunicorn.conf.py", "write_service.wsgi:application"
    command = services["write"]["command"]
    assert command[:3] == ["gunicorn", "-c", conf] and command[-1] == app
    assert (ROOT / conf).exists(), conf
    assert f"$REPO_ROOT/{conf} {app}" in apps_sh, f"stack/apps.sh no longer runs {conf}"
    # The search API's server (Granian) is configured by search_api/server.py, natively and in compose.
    assert services["search"]["command"] == ["python", "-m", "search_api.server"]
    assert (ROOT / "search_api" / "server.py").exists()
    assert "$VENV/python -m search_api.server" in apps_sh, "stack/apps.sh no longer runs search_api/server.py"


def test_worker_queue_groups_match_the_native_stack_and_cover_every_queue(services):
    apps_sh = (ROOT / "stack" / "apps.sh").read_text()
    native_groups = set(re.findall(r"worker -Q ([a-z,]+)", apps_sh))
    compose_groups = set()
    for svc in services.values():
        command = svc.get("command") or []
        if "worker" in command:
            compose_groups.add(command[command.index("-Q") + 1])
    assert compose_groups == native_groups
    assert sorted(q for group in compose_groups for q in group.split(",")) == sorted(ALL_QUEUES)


# --- the image -----------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_locked_and_non_root():
    dockerfile = (COMPOSE_DIR / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+) AS (\w+)", dockerfile, re.M)
    names = [name for _, name in stages]
    assert {"build", "app", "nginx", "pgbouncer"} <= set(names)
    assert "uv sync --frozen --no-dev" in dockerfile
    assert "manage.py collectstatic --no-input" in dockerfile
    # The /docs/ page is assembled by the native stack's script from the same lock file.
    assert "stack/docs_ui.sh install" in dockerfile and "COPY --from=docs" in dockerfile
    # Each runtime stage ends as a non-root user.
    for stage_text in re.split(r"^FROM ", dockerfile, flags=re.M)[1:]:
        name = stage_text.split()[2]
        if name == "build":
            continue
        users = re.findall(r"^USER (\S+)", stage_text, re.M)
        assert users and users[-1] not in ("root", "0"), f"stage {name} runs as root"
    assert names[-1] == "app", "a plain `docker build` must produce the app image"


def test_env_example_sets_every_required_compose_variable():
    template = COMPOSE_FILE.read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", template))
    env = read_env_file(ENV_EXAMPLE)
    assert required <= {name for name, value in env.items() if value}, sorted(required - set(env))
