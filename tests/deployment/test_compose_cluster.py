"""compose/docker-compose.cluster.yml checked statically (no Docker needed).

Each rule is a `check_*` function of the rendered file (and, for HAProxy, of its configuration
text); test_the_cluster_file_passes runs every one on the real file, and
test_each_check_can_fail runs each on a copy broken in the one way it guards against and expects
it to fail, so no check passes vacuously. `docker compose config` on this file is in
tests/deployment/test_compose_cli.py.
"""

from __future__ import annotations

import copy
import ipaddress
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from read_indexer.task_names import ALL_QUEUES
from shared import config as shared_config
from tests.deployment.compose_file import (
    CLUSTER_FILE,
    COMPOSE_DIR,
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
HAPROXY_CFG = COMPOSE_DIR / "haproxy" / "haproxy.cfg"
ES_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:9.5.3"
ES_NODES = ("es1", "es2", "es3")
PG_NODES = ("pg1", "pg2", "pg3")
ETCD_MEMBERS = ("etcd1", "etcd2", "etcd3")
HOSTS = ("a", "b")
ONE_SHOT = {"es-certs", "es-users", "pg-init", "migrate"}
# Each app role, run twice: <role>-a and <role>-b.
APP_ROLES = ("write", "search", "worker-indexing", "worker-fanout", "worker-counters", "listener", "beat")
APP_SERVICES = {f"{role}-{host}" for role in APP_ROLES for host in HOSTS}
# Settings of stack/conf/postgresql.conf that Spilo must not be told: it preloads its own list of
# libraries, pg_stat_statements among them (test_spilo_preloads_pg_stat_statements_itself).
SPILO_OWNS = {"shared_preload_libraries"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return load(path=CLUSTER_FILE)


@pytest.fixture(scope="module")
def haproxy_cfg() -> str:
    return HAPROXY_CFG.read_text()


def _command(svc: dict) -> str:
    command = svc.get("command") or []
    return " ".join(map(str, command)) if isinstance(command, list) else str(command)


def _probe(svc: dict) -> str:
    return " ".join(map(str, (svc.get("healthcheck") or {}).get("test") or []))


def _spilo_configuration(svc: dict) -> dict:
    return yaml.safe_load(environment(svc)["SPILO_CONFIGURATION"])


def _postgresql_conf() -> dict[str, str]:
    settings = {}
    for line in (STACK_CONF / "postgresql.conf").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip().strip("'")
    return settings


def _haproxy_sections(text: str) -> dict[str, list[str]]:
    """`listen NAME` / `frontend NAME` / `defaults` ... -> their lines, comments dropped."""
    sections, current = {}, None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if not raw[0].isspace():
            current = line.strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line.strip())
    return sections


def _haproxy_listener(text: str, port: int) -> list[str]:
    for name, lines in _haproxy_sections(text).items():
        if name.startswith("listen ") and f"bind :{port}" in lines:
            return lines
    raise AssertionError(f"no listen section of compose/haproxy/haproxy.cfg binds :{port}")


# --- the checks ------------------------------------------------------------------------------------


def check_expected_services(compose: dict) -> None:
    services = set(compose["services"])
    expected = (
        {"es-certs", "es-users", "pg-init", "migrate", "haproxy", "pgbouncer", "redis", "nginx"}
        | set(ES_NODES)
        | set(PG_NODES)
        | set(ETCD_MEMBERS)
        | APP_SERVICES
    )
    assert services == expected, f"missing {sorted(expected - services)}, unexpected {sorted(services - expected)}"
    assert set(python_services(compose)) == APP_SERVICES | {"migrate"}


def check_every_service_has_a_health_check_or_is_an_awaited_one_shot(compose: dict) -> None:
    services = compose["services"]
    for name, svc in services.items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", f"{name} must not be restarted after it succeeded"
            awaited_by = [
                other
                for other, spec in services.items()
                if (spec.get("depends_on") or {}).get(name, {}).get("condition") == "service_completed_successfully"
            ]
            assert awaited_by, f"nothing waits for the one-shot {name}"
            continue
        test = (svc.get("healthcheck") or {}).get("test")
        assert test and test != ["NONE"] and not svc["healthcheck"].get("disable"), f"{name} has no health check"
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), f"{name}: restart={svc.get('restart')}"


def check_start_order_waits_for_health_or_exit_code(compose: dict) -> None:
    services = compose["services"]
    for name, svc in services.items():
        depends_on = svc.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a bare list"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            wanted = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert spec.get("condition") == wanted, (name, target, spec)
    for name in APP_SERVICES:
        assert "migrate" in services[name]["depends_on"], f"{name} starts before the migrations"
        assert "es-users" in services[name]["depends_on"], f"{name} starts before its Elasticsearch user exists"
    assert set(services["nginx"]["depends_on"]) == {f"{role}-{host}" for role in ("write", "search") for host in HOSTS}


def check_resource_limits(compose: dict) -> None:
    for name, svc in compose["services"].items():
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        assert limits.get("cpus") and limits.get("memory"), f"{name} has no cpu/memory limit"


def check_only_nginx_publishes_a_port(compose: dict) -> None:
    services = compose["services"]
    published = {name for name, svc in services.items() if svc.get("ports")}
    assert published == {"nginx"}, f"ports published by {sorted(published - {'nginx'})}"
    (mapping,) = services["nginx"]["ports"]
    assert int(str(mapping).rsplit(":", 1)[-1]) == int(environment(services["nginx"])["NGINX_LISTEN"]) == 8080


# Elasticsearch ------------------------------------------------------------------------------------


def _es_nodes(compose: dict) -> dict[str, dict]:
    return {
        name: svc for name, svc in compose["services"].items() if svc.get("image") == ES_IMAGE and name not in ONE_SHOT
    }


def check_three_elasticsearch_nodes_all_master_eligible_and_data(compose: dict) -> None:
    nodes = _es_nodes(compose)
    assert sorted(nodes) == list(ES_NODES), f"Elasticsearch nodes: {sorted(nodes)}"
    cluster_names = set()
    for name, svc in nodes.items():
        env = environment(svc)
        assert env["node.name"] == name == svc.get("hostname"), name
        roles = set(env["node.roles"].split(","))
        assert {"master", "data"} <= roles, f"{name}: roles {sorted(roles)}"
        assert env.get("discovery.type") != "single-node", name
        assert set(env["discovery.seed_hosts"].split(",")) == set(ES_NODES), name
        assert set(env["cluster.initial_master_nodes"].split(",")) == set(ES_NODES), name
        cluster_names.add(env["cluster.name"])
        assert named_volumes(svc).get(f"{name}-data") == "/usr/share/elasticsearch/data", f"{name}: its own data volume"
    assert len(cluster_names) == 1 and "" not in cluster_names, f"one cluster name, not {cluster_names}"


def check_elasticsearch_security_is_on_with_tls_both_ways(compose: dict) -> None:
    certs = compose["services"]["es-certs"]
    certs_env = environment(certs)
    assert certs_env["ES_NODES"].split() == list(ES_NODES), "a certificate per node"
    certs_dir = certs_env["CERTS_DIR"]
    assert named_volumes(certs).get("es-certs") == certs_dir
    assert "bash /cqrs/es-setup.sh certs" in _command(certs)
    for name, svc in _es_nodes(compose).items():
        env = environment(svc)
        assert env["xpack.security.enabled"] == "true", f"{name}: security off"
        assert env.get("ELASTIC_PASSWORD"), f"{name}: no bootstrap password"
        for layer in ("http", "transport"):
            prefix = f"xpack.security.{layer}.ssl"
            assert env[f"{prefix}.enabled"] == "true", f"{name}: {layer} without TLS"
            assert env[f"{prefix}.key"] == f"certs/{name}/{name}.key", (name, layer)
            assert env[f"{prefix}.certificate"] == f"certs/{name}/{name}.crt", (name, layer)
            assert env[f"{prefix}.certificate_authorities"] == "certs/ca/ca.crt", (name, layer)
            assert env.get(f"{prefix}.verification_mode", "full") in ("full", "certificate"), (name, layer)
        # certs/ is the es-certs volume, read-only in the node.
        mounts = [v for v in svc["volumes"] if v.split(":")[0] == "es-certs"]
        assert mounts == ["es-certs:/usr/share/elasticsearch/config/certs:ro"], f"{name}: {mounts}"
        assert svc["depends_on"].get("es-certs", {}).get("condition") == "service_completed_successfully", name
        probe = _probe(svc)
        assert "https://localhost:9200" in probe and "--cacert config/certs/ca/ca.crt" in probe, f"{name}: {probe}"
    # The CA's private key lives in a volume that only es-certs mounts.
    holders = [name for name, svc in compose["services"].items() if "es-ca-private" in named_volumes(svc)]
    assert holders == ["es-certs"], f"the CA key is mounted in {holders}"


def check_the_app_uses_its_own_user_the_ca_and_every_node(compose: dict) -> None:
    services = compose["services"]
    users = environment(services["es-users"])
    assert users["ES_NODES"].split() == list(ES_NODES)
    assert "bash /cqrs/es-setup.sh users" in _command(services["es-users"])
    public_dir = environment(services["es-certs"])["CA_PUBLIC_DIR"]
    assert named_volumes(services["es-certs"]).get("es-ca") == public_dir == users["CA_PUBLIC_DIR"]
    for name, svc in python_services(compose).items():
        env = environment(svc)
        urls = [urlsplit(url) for url in env["ES_URL"].split(",")]
        assert [(u.scheme, u.hostname, u.port) for u in urls] == [("https", node, 9200) for node in ES_NODES], name
        assert env["ES_USERNAME"] and env["ES_USERNAME"] != "elastic", f"{name}: not the superuser"
        assert env["ES_USERNAME"] == users["ES_USERNAME"] and env["ES_PASSWORD"] == users["ES_PASSWORD"], name
        assert env["ES_INDEX_PREFIX"] == users["ES_INDEX_PREFIX"], f"{name}: the role covers another prefix"
        assert env["ES_NUMBER_OF_REPLICAS"] == "1", f"{name}: ES_NUMBER_OF_REPLICAS={env['ES_NUMBER_OF_REPLICAS']}"
        ca = Path(env["ES_CA_CERTS"])
        assert ca.name == "ca.crt", name  # what setup.sh writes into CA_PUBLIC_DIR
        assert named_volumes(svc).get("es-ca") == str(ca.parent), f"{name}: {ca} is not on the es-ca volume"
        assert "es-certs" not in named_volumes(svc), f"{name} can read the nodes' private keys"


# PostgreSQL ---------------------------------------------------------------------------------------


def check_three_etcd_members(compose: dict) -> None:
    services = compose["services"]
    for name in ETCD_MEMBERS:
        env = environment(services[name])
        assert env["ETCD_NAME"] == name, name
        members = dict(member.split("=", 1) for member in env["ETCD_INITIAL_CLUSTER"].split(","))
        assert members == {m: f"http://{m}:2380" for m in ETCD_MEMBERS}, name
        assert env["ETCD_INITIAL_ADVERTISE_PEER_URLS"] == members[name], name
        assert env["ETCD_ADVERTISE_CLIENT_URLS"] == f"http://{name}:2379", name
        assert named_volumes(services[name]).get(f"{name}-data") == env["ETCD_DATA_DIR"], name
        image = services[name]["image"]
        assert image.startswith("quay.io/coreos/etcd:v3.5."), f"{name}: {image}"


def check_three_patroni_nodes_in_synchronous_mode(compose: dict) -> None:
    services = compose["services"]
    scopes = set()
    for name in PG_NODES:
        svc = services[name]
        assert svc["image"].startswith("ghcr.io/zalando/spilo-"), f"{name}: {svc['image']}"
        assert svc.get("hostname") == name, f"{name}: Patroni's member name is the host name"
        env = environment(svc)
        scopes.add(env["SCOPE"])
        hosts = yaml.safe_load(f"[{env['ETCD3_HOSTS']}]")
        assert hosts == [f"{m}:2379" for m in ETCD_MEMBERS], f"{name}: {hosts}"
        assert env["PGPASSWORD_SUPERUSER"] and env["PGPASSWORD_STANDBY"], f"{name}: Spilo's default passwords"
        assert env.get("PATRONI_RESTAPI_PASSWORD"), f"{name}: Patroni's unsafe endpoints unauthenticated"
        assert "ALLOW_NOSSL" not in env, f"{name}: connections without TLS allowed"
        dcs = _spilo_configuration(svc)["bootstrap"]["dcs"]
        assert dcs.get("synchronous_mode") is True, f"{name}: asynchronous replication"
        assert dcs.get("synchronous_node_count", 1) >= 1, name
        assert dcs["postgresql"].get("use_pg_rewind") is True, f"{name}: a failed leader could not rejoin"
        assert named_volumes(svc).get(f"{name}-data") == "/home/postgres/pgdata", f"{name}: its own data volume"
        assert "/health" in _probe(svc) and ":8008" in _probe(svc), name
        assert set(svc["depends_on"]) == set(ETCD_MEMBERS), name
    assert len(scopes) == 1, f"one Patroni cluster, not {scopes}"


def check_postgres_settings_are_the_native_stacks(compose: dict) -> None:
    for name in PG_NODES:
        configuration = _spilo_configuration(compose["services"][name])
        given = {
            **configuration["bootstrap"]["dcs"]["postgresql"]["parameters"],
            **configuration["postgresql"]["parameters"],
        }
        for key, value in _postgresql_conf().items():
            if key in SPILO_OWNS:
                assert key not in given, f"{name}: {key} would replace Spilo's own list"
                continue
            assert key in given, f"{name}: {key} of stack/conf/postgresql.conf is not set"
            assert str(given[key]).lower() == value.lower(), f"{name}: {key} = {given[key]!r}, natively {value!r}"


def check_haproxy_routes_the_leader_and_the_standbys(compose: dict, haproxy_cfg: str) -> None:
    haproxy = compose["services"]["haproxy"]
    assert bind_mounts(haproxy).get("/usr/local/etc/haproxy/haproxy.cfg") == HAPROXY_CFG
    defaults = _haproxy_sections(haproxy_cfg)["defaults"]
    for port, endpoint in ((5000, "/primary"), (5001, "/replica")):
        lines = _haproxy_listener(haproxy_cfg, port)
        default_server = " ".join(line for line in defaults + lines if line.startswith("default-server"))
        assert str(port) in [str(p) for p in haproxy["expose"]], port
        assert "option httpchk" in lines, port
        sends = [line.split()[-1] for line in lines if line.startswith("http-check send meth GET uri ")]
        assert [uri.split("?")[0] for uri in sends] == [endpoint], (
            f":{port} is not checked with GET {endpoint}: {sends}"
        )
        assert "http-check expect status 200" in lines, port
        servers = [line.split() for line in lines if line.startswith("server ")]
        assert sorted(s[2] for s in servers) == [f"{node}:5432" for node in PG_NODES], f":{port} servers {servers}"
        for server in servers:
            options = " ".join(server[3:]) + " " + default_server
            assert "check" in server[3:] and "port 8008" in options, f":{port} {server}: not checked on Patroni's API"
            assert "on-marked-down shutdown-sessions" in options, f":{port} {server}: sessions outlive a demotion"
    assert "monitor fail if { nbsrv(postgres_primary) lt 1 }" in _haproxy_sections(haproxy_cfg)["frontend health"]
    assert "8404" in _probe(haproxy) and "/health" in _probe(haproxy)


def check_every_database_path_goes_through_haproxy(compose: dict) -> None:
    services = compose["services"]
    pgbouncer = environment(services["pgbouncer"])
    assert (pgbouncer["PG_PRIMARY_HOST"], pgbouncer["PG_PRIMARY_PORT"]) == ("haproxy", "5000")
    assert pgbouncer.get("PGBOUNCER_SERVER_TLS_SSLMODE") in ("require", "verify-ca", "verify-full"), (
        "pgBouncer 1.18 does not use TLS by default, and Spilo refuses connections without it"
    )
    assert (
        "server_tls_sslmode = $PGBOUNCER_SERVER_TLS_SSLMODE"
        in (COMPOSE_DIR / "pgbouncer" / "entrypoint.sh").read_text()
    )
    assert bind_mounts(services["pgbouncer"]).get("/etc/pgbouncer/pgbouncer-common.ini") == STACK_CONF / "pgbouncer.ini"
    for name, svc in python_services(compose).items():
        env = environment(svc)
        assert (env["PG_PRIMARY_HOST"], env["PG_PORT"]) == ("haproxy", "5000"), f"{name}: LISTEN not on the leader"
        assert (env["PG_REPLICA_HOST"], env["PG_REPLICA_PORT"]) == ("haproxy", "5001"), f"{name}: replica reads"
        if name == "migrate":
            assert (env["PG_HOST"], env["DB_VIA_PGBOUNCER"]) == ("haproxy", "false"), "migrations need a session"
        else:
            assert (env["PG_HOST"], env["DB_VIA_PGBOUNCER"]) == ("pgbouncer", "true"), name
            assert env["PGBOUNCER_PORT"] == pgbouncer["PGBOUNCER_PORT"], name
        assert env["PG_DB"] == pgbouncer["PG_DB"] and env["PG_USER"] == pgbouncer["PG_USER"], name
        assert env["PG_PASSWORD"] == pgbouncer["PG_PASSWORD"], name
    init = environment(services["pg-init"])
    assert (init["PGHOST"], init["PGPORT"], init["PGSSLMODE"]) == ("haproxy", "5000", "require")
    assert (init["PG_DB"], init["PG_USER"], init["PG_PASSWORD"]) == (
        pgbouncer["PG_DB"],
        pgbouncer["PG_USER"],
        pgbouncer["PG_PASSWORD"],
    )
    assert init["PGPASSWORD"] == environment(services["pg1"])["PGPASSWORD_SUPERUSER"]
    assert bind_mounts(services["pg-init"]).get("/cqrs/pg-init.sh") == COMPOSE_DIR / "postgres" / "cluster-init.sh"


# The application ----------------------------------------------------------------------------------


def check_two_instances_of_each_app_service(compose: dict) -> None:
    services = compose["services"]
    for role in APP_ROLES:
        pair = [services.get(f"{role}-{host}") for host in HOSTS]
        assert all(pair), f"{role}: not on both hosts"
        assert _command(pair[0]) == _command(pair[1]), f"{role}: the two instances run different commands"
        assert [svc.get("hostname") for svc in pair] == [f"app-{host}" for host in HOSTS], role
        for svc in pair:
            assert (svc.get("deploy") or {}).get("replicas", 1) == 1, f"{role}: replicas beside the two hosts"
    others = [
        name
        for name, svc in services.items()
        if name not in APP_SERVICES and name != "migrate" and (svc.get("build") or {}).get("target") == "app"
    ]
    assert not others, others


def check_beats_share_one_schedule_through_redbeat(compose: dict) -> None:
    beats = {name: svc for name, svc in compose["services"].items() if re.search(r"\bbeat\b", _command(svc))}
    assert sorted(beats) == ["beat-a", "beat-b"], sorted(beats)
    for name, svc in beats.items():
        command = svc["command"]
        assert command[command.index("-S") + 1] == "redbeat.RedBeatScheduler", f"{name}: two local schedules"
        assert "--schedule" not in command, name
        assert "beat_health.py" in _probe(svc) and "env -u PROMETHEUS_MULTIPROC_DIR" in _probe(svc), name


def check_nginx_balances_both_hosts_at_fixed_addresses(compose: dict) -> None:
    services = compose["services"]
    nginx = environment(services["nginx"])
    (net,) = compose["networks"]["backend"]["ipam"]["config"]
    subnet, dynamic = ipaddress.ip_network(net["subnet"]), ipaddress.ip_network(net["ip_range"])
    for role, upstream, bind in (
        ("write", "NGINX_WRITE_UPSTREAM", "GUNICORN_BIND"),
        ("search", "NGINX_SEARCH_UPSTREAM", "SEARCH_BIND"),
    ):
        wanted = []
        for host in HOSTS:
            svc = services[f"{role}-{host}"]
            address = ipaddress.ip_address(svc["networks"]["backend"]["ipv4_address"])
            assert address in subnet and address not in dynamic, f"{role}-{host}: {address} may be handed out twice"
            port = port_of(environment(svc)[bind])
            assert f"http://127.0.0.1:{port}/" in _probe(svc) and str(port) in [str(p) for p in svc["expose"]]
            wanted.append(f"{address}:{port}")
        assert nginx[upstream].split() == wanted, f"NGINX {upstream}={nginx[upstream]}, instances {wanted}"
    mounts = bind_mounts(services["nginx"])
    assert mounts.get("/etc/nginx/cqrs/nginx.conf") == STACK_CONF / "nginx.conf"
    assert mounts.get("/etc/nginx/cqrs/nginx-render.sh") == STACK_CONF / "nginx-render.sh"
    # The template's passive health check, which each rendered `server` line inherits.
    template = (STACK_CONF / "nginx.conf").read_text()
    for upstream in ("NGINX_WRITE_UPSTREAM", "NGINX_SEARCH_UPSTREAM"):
        assert re.search(rf"server \${{{upstream}}} max_fails=\d+ fail_timeout=\d+s;", template), upstream


def check_forwarded_headers_are_trusted_from_the_cluster_network_only(compose: dict) -> None:
    (net,) = compose["networks"]["backend"]["ipam"]["config"]
    for name in ("write-a", "write-b", "search-a", "search-b"):
        assert environment(compose["services"][name])["FORWARDED_ALLOW_IPS"] == net["subnet"], name


def check_workers_cover_every_queue_on_both_hosts(compose: dict) -> None:
    native = set(re.findall(r"worker -Q ([a-z,]+)", (ROOT / "stack" / "apps.sh").read_text()))
    for host in HOSTS:
        groups = set()
        for name, svc in compose["services"].items():
            command = svc.get("command") or []
            if name.endswith(f"-{host}") and "worker" in command:
                groups.add(command[command.index("-Q") + 1])
                node = command[command.index("-n") + 1]
                assert node.endswith("@%h") and f"-d {node[:-2]}$HOSTNAME " in _probe(svc), (
                    f"{name}: pings another node"
                )
        assert groups == native, f"host {host}: {sorted(groups)}"
        assert sorted(q for group in groups for q in group.split(",")) == sorted(ALL_QUEUES), host


def check_listeners_check_their_own_session(compose: dict) -> None:
    for host in HOSTS:
        svc = compose["services"][f"listener-{host}"]
        assert _command(svc) == "python manage.py listen_changes"
        assert _probe(svc) == "CMD python /app/compose/listener_health.py", f"listener-{host}: {_probe(svc)!r}"


def check_volumes_are_declared_used_and_bind_mounts_read_only(compose: dict) -> None:
    used = {volume for svc in compose["services"].values() for volume in named_volumes(svc)}
    assert used == set(compose["volumes"]), (
        f"declared not used {set(compose['volumes']) - used}, used not declared {used - set(compose['volumes'])}"
    )
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes") or []:
            if volume.startswith((".", "/")):
                assert volume.endswith(":ro"), f"{name}: {volume} should be read-only"
        for target, source in bind_mounts(svc).items():
            assert source.exists(), f"{name}: {source} (mounted at {target}) does not exist"


def check_metrics_directories_are_tmpfs_and_probes_stay_out_of_them(compose: dict) -> None:
    for name, svc in python_services(compose).items():
        path = environment(svc)["PROMETHEUS_MULTIPROC_DIR"]
        assert any(str(mount).split(":")[0] == path for mount in svc.get("tmpfs") or []), name
        probe = _probe(svc)
        if "celery -A" in probe or "beat_health" in probe:  # both import the Celery app
            assert "env -u PROMETHEUS_MULTIPROC_DIR" in probe, name


CHECKS = [value for key, value in sorted(globals().items()) if key.startswith("check_")]


# --- the checks on the real file -------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__[len("check_") :])
def test_the_cluster_file_passes(check, compose, haproxy_cfg):
    if "haproxy_cfg" in check.__code__.co_varnames[: check.__code__.co_argcount]:
        check(compose, haproxy_cfg)
    else:
        check(compose)


# --- each check fails on a file broken in its way ---------------------------------------------------


def _svc(compose, name):
    return compose["services"][name]


def _env(compose, name):
    return compose["services"][name]["environment"]


def _set(mapping, key, value):
    mapping[key] = value


BREAKAGES = {
    "expected_services": lambda c, h: c["services"].pop("es3"),
    "every_service_has_a_health_check_or_is_an_awaited_one_shot": lambda c, h: _svc(c, "haproxy").pop("healthcheck"),
    "start_order_waits_for_health_or_exit_code": lambda c, h: _set(
        _svc(c, "write-a")["depends_on"], "es-users", {"condition": "service_started"}
    ),
    "resource_limits": lambda c, h: _svc(c, "etcd2").pop("deploy"),
    "only_nginx_publishes_a_port": lambda c, h: _set(_svc(c, "es1"), "ports", ["9200:9200"]),
    "three_elasticsearch_nodes_all_master_eligible_and_data": lambda c, h: _set(_env(c, "es2"), "node.roles", "master"),
    "elasticsearch_security_is_on_with_tls_both_ways": lambda c, h: _set(
        _env(c, "es3"), "xpack.security.transport.ssl.enabled", "false"
    ),
    "the_app_uses_its_own_user_the_ca_and_every_node": lambda c, h: _set(
        _env(c, "search-b"), "ES_NUMBER_OF_REPLICAS", "0"
    ),
    "three_etcd_members": lambda c, h: _set(_env(c, "etcd3"), "ETCD_INITIAL_CLUSTER", "etcd3=http://etcd3:2380"),
    "three_patroni_nodes_in_synchronous_mode": lambda c, h: _set(
        _env(c, "pg2"),
        "SPILO_CONFIGURATION",
        _env(c, "pg2")["SPILO_CONFIGURATION"].replace("synchronous_mode: true", "synchronous_mode: false"),
    ),
    "postgres_settings_are_the_native_stacks": lambda c, h: _set(
        _env(c, "pg3"),
        "SPILO_CONFIGURATION",
        _env(c, "pg3")["SPILO_CONFIGURATION"].replace("work_mem: 16MB", "work_mem: 4MB"),
    ),
    "haproxy_routes_the_leader_and_the_standbys": lambda c, h: h.replace("uri /primary", "uri /health"),
    "every_database_path_goes_through_haproxy": lambda c, h: _set(_env(c, "listener-b"), "PG_PRIMARY_HOST", "pg1"),
    "two_instances_of_each_app_service": lambda c, h: c["services"].pop("worker-fanout-b"),
    "beats_share_one_schedule_through_redbeat": lambda c, h: _set(
        _svc(c, "beat-b"),
        "command",
        ["celery", "-A", "read_indexer.celery_app", "beat", "-S", "celery.beat:PersistentScheduler"],
    ),
    "nginx_balances_both_hosts_at_fixed_addresses": lambda c, h: _set(
        _env(c, "nginx"), "NGINX_SEARCH_UPSTREAM", _env(c, "nginx")["NGINX_SEARCH_UPSTREAM"].split()[0]
    ),
    "forwarded_headers_are_trusted_from_the_cluster_network_only": lambda c, h: _set(
        _env(c, "write-b"), "FORWARDED_ALLOW_IPS", "0.0.0.0/0"
    ),
    "workers_cover_every_queue_on_both_hosts": lambda c, h: _set(
        _svc(c, "worker-counters-b"),
        "command",
        [part.replace("counters,maintenance", "counters") for part in _svc(c, "worker-counters-b")["command"]],
    ),
    "listeners_check_their_own_session": lambda c, h: _svc(c, "listener-a").pop("healthcheck"),
    "volumes_are_declared_used_and_bind_mounts_read_only": lambda c, h: c["volumes"].pop("pg2-data"),
    "metrics_directories_are_tmpfs_and_probes_stay_out_of_them": lambda c, h: _set(
        _svc(c, "beat-a")["healthcheck"], "test", ["CMD", "python", "/app/compose/beat_health.py"]
    ),
}


def test_every_check_has_a_breakage():
    assert sorted(BREAKAGES) == sorted(check.__name__[len("check_") :] for check in CHECKS)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__[len("check_") :])
def test_each_check_can_fail(check, compose, haproxy_cfg):
    broken, cfg = copy.deepcopy(compose), haproxy_cfg
    result = BREAKAGES[check.__name__[len("check_") :]](broken, cfg)
    if isinstance(result, str) and result != cfg and "\n" in result:  # a changed HAProxy configuration
        cfg = result
    with pytest.raises(AssertionError):
        if "haproxy_cfg" in check.__code__.co_varnames[: check.__code__.co_argcount]:
            check(broken, cfg)
        else:
            check(broken)


# --- settings, secrets, scripts --------------------------------------------------------------------


def test_secrets_have_no_defaults_in_the_cluster_file():
    with pytest.raises(MissingVariable) as excinfo:
        load(env={}, path=CLUSTER_FILE)
    assert "compose/.env" in str(excinfo.value)


def test_env_example_sets_every_required_variable_of_the_cluster_file():
    required = set(re.findall(r"\$\{([A-Z_]+):\?", CLUSTER_FILE.read_text()))
    env = read_env_file(ENV_EXAMPLE)
    assert {"ELASTIC_PASSWORD", "ES_PASSWORD", "PATRONI_RESTAPI_PASSWORD"} <= required
    assert required <= {name for name, value in env.items() if value}, sorted(required - set(env))


def _required_in_production() -> set[str]:
    per_env = {name for defaults in shared_config._ENV_DEFAULTS.values() for name in defaults}
    return set(shared_config._PRODUCTION_REQUIRED) | (per_env - set(shared_config._ENV_DEFAULTS["production"]))


@pytest.mark.parametrize("name", sorted(APP_SERVICES | {"migrate"}))
def test_every_python_service_sets_every_production_variable(compose, name, monkeypatch):
    env = environment(compose["services"][name])
    assert env.get("APP_ENV") == "production"
    missing = sorted(var for var in _required_in_production() if not env.get(var))
    assert not missing, f"{name} lacks production settings {missing}"
    for var in list(os.environ):
        monkeypatch.delenv(var)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    config = shared_config.load_config()
    assert config.app_env == "production"
    assert config.pg_host in compose["services"] and config.pg_replica_host in compose["services"]
    assert urlsplit(config.redis_url).hostname in compose["services"]
    # The cluster's own variables, once shared/config.py reads them: exactly these values.
    for field, var in (("es_username", "ES_USERNAME"), ("es_password", "ES_PASSWORD"), ("es_ca_certs", "ES_CA_CERTS")):
        if hasattr(config, field):
            assert getattr(config, field) == env[var], field
    assert config.es_number_of_replicas == 1


def test_write_service_settings_pass_django_checks_with_the_cluster_environment(compose):
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **environment(compose["services"]["write-a"])}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("script", ["elasticsearch/setup.sh", "postgres/cluster-init.sh", "pgbouncer/entrypoint.sh"])
def test_setup_scripts_parse(script):
    result = subprocess.run(["bash", "-n", str(COMPOSE_DIR / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_nginx_template_renders_one_server_per_instance_with_the_passive_health_check(compose, tmp_path):
    if not shutil.which("envsubst"):
        pytest.skip("envsubst (gettext-base) is not installed")
    env = {"PATH": os.environ["PATH"], **environment(compose["services"]["nginx"])}
    output = tmp_path / "nginx.conf"
    result = subprocess.run(
        ["sh", str(STACK_CONF / "nginx-render.sh"), str(STACK_CONF / "nginx.conf"), str(output)],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    rendered = output.read_text()
    for upstream, variable in (("write_service", "NGINX_WRITE_UPSTREAM"), ("search_service", "NGINX_SEARCH_UPSTREAM")):
        block = re.search(rf"upstream {upstream} \{{(.*?)\}}", rendered, re.S).group(1)
        servers = re.findall(r"server (\S+) max_fails=\d+ fail_timeout=\d+s;", block)
        assert servers == env[variable].split(), (upstream, servers)
    assert not re.search(r"^[^#]*\$\{NGINX_", rendered, re.M), "a placeholder left in a directive"
    # A single address renders as before: one server line (the native stack, the single-node file).
    single = {**env, "NGINX_WRITE_UPSTREAM": "127.0.0.1:8000"}
    subprocess.run(
        ["sh", str(STACK_CONF / "nginx-render.sh"), str(STACK_CONF / "nginx.conf"), str(output)], env=single, check=True
    )
    block = re.search(r"upstream write_service \{(.*?)\}", output.read_text(), re.S).group(1)
    assert re.findall(r"server (\S+) max_fails", block) == ["127.0.0.1:8000"]


def test_haproxy_accepts_its_configuration():
    if not shutil.which("haproxy"):
        pytest.skip("haproxy is not installed here (the structural checks above still ran)")
    result = subprocess.run(["haproxy", "-c", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_listener_health_reads_established_connections_from_proc_net_tcp(tmp_path):
    sys.path.insert(0, str(COMPOSE_DIR))
    try:
        import listener_health
    finally:
        sys.path.remove(str(COMPOSE_DIR))
    table = tmp_path / "tcp"
    table.write_text(
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
        "   0: 0B001DAC:A1B2 05001DAC:1388 01 00000000:00000000 00:00000000 00000000 10001 0 1 1\n"
        "   1: 0B001DAC:A1B3 06001DAC:1389 06 00000000:00000000 00:00000000 00000000 10001 0 2 1\n"
    )
    assert listener_health.established_peers((str(table),)) == {("172.29.0.5", 5000)}
