"""Smoke tests of the native stack over real connections (issue: foundation)."""

from __future__ import annotations

import uuid

import psycopg2
import pytest
import redis
import requests
from django.conf import settings
from django.db import connections
from django.db.utils import InternalError, ProgrammingError

from read_indexer import task_names
from shared.config import load_config
from shared.es_client import get_es_client
from tests.helpers import wait_until

CONFIG = load_config()


def _connect(port: int, dbname: str | None = None):
    conn = psycopg2.connect(
        host=CONFIG.pg_host, port=port, user=CONFIG.pg_user, password=CONFIG.pg_password, dbname=dbname or CONFIG.pg_db
    )
    conn.autocommit = True
    return conn


def test_row_written_on_primary_is_read_on_replica():
    token = uuid.uuid4().hex
    primary, replica = _connect(CONFIG.pg_port), _connect(CONFIG.pg_replica_port)
    with primary.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS smoke_replication (token text PRIMARY KEY)")
        cursor.execute("INSERT INTO smoke_replication VALUES (%s)", [token])

    def replicated():
        with replica.cursor() as cursor:
            try:
                cursor.execute("SELECT count(*) FROM smoke_replication WHERE token = %s", [token])
            except psycopg2.errors.UndefinedTable:  # the CREATE TABLE itself has not arrived yet
                return False
            return cursor.fetchone()[0] == 1

    wait_until(replicated, timeout=10, message="replication of the row")
    with replica.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        assert cursor.fetchone()[0] is True


def test_replica_alias_refuses_writes_loudly():
    with pytest.raises((InternalError, ProgrammingError, Exception)) as excinfo:
        with connections["replica"].cursor() as cursor:
            cursor.execute("CREATE TABLE smoke_should_fail (x int)")
    assert "read-only" in str(excinfo.value)
    connections["replica"].close()


def test_pgbouncer_transaction_pooling_and_django_disables_server_side_cursors():
    conn = _connect(CONFIG.pgbouncer_port)
    with conn.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        assert cursor.fetchone()[0] == CONFIG.pg_db
    admin = _connect(CONFIG.pgbouncer_port, dbname="pgbouncer")
    with admin.cursor() as cursor:
        cursor.execute("SHOW CONFIG")
        config = {row[0]: row[1] for row in cursor.fetchall()}
    assert config["pool_mode"] == "transaction"
    default = settings.DATABASES["default"]
    assert int(default["PORT"]) == CONFIG.pgbouncer_port
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is True
    with connections["default"].cursor() as cursor:  # Django itself through pgBouncer
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def test_redis_set_get_and_noeviction():
    client = redis.Redis.from_url(CONFIG.cache_url)
    key = f"smoke:{uuid.uuid4().hex}"
    client.set(key, "value", ex=30)
    assert client.get(key) == b"value"
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"


def test_elasticsearch_round_trip_with_the_official_client():
    es = get_es_client()
    info = es.info()
    assert int(info["version"]["number"].split(".")[0]) >= 8
    raw = requests.get(CONFIG.es_url, timeout=5)
    assert raw.headers["X-Elastic-Product"] == "Elasticsearch"
    assert es.cluster.health(wait_for_status="yellow", timeout="30s")["status"] in {"green", "yellow"}
    index = f"{CONFIG.es_index_prefix}smoke-{uuid.uuid4().hex[:8]}"
    try:
        es.indices.create(index=index, mappings={"properties": {"title": {"type": "text"}}})
        es.index(index=index, id="1", document={"title": "hello real elasticsearch"})
        es.indices.refresh(index=index)
        hits = es.search(index=index, query={"match": {"title": "elasticsearch"}})["hits"]["hits"]
        assert [h["_id"] for h in hits] == ["1"]
    finally:
        es.indices.delete(index=index, ignore_unavailable=True)


def test_celery_task_round_trip_through_redis_to_a_real_worker(pipeline):
    from read_indexer.celery_app import app as celery_app

    value = uuid.uuid4().hex
    celery_app.send_task(task_names.PING, args=[value])
    client = redis.Redis.from_url(CONFIG.cache_url)
    reply = wait_until(lambda: client.get(f"ping:{value}"), timeout=30, message="the worker's pong")
    assert reply == f"pong:{value}".encode()
