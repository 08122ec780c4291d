"""The benchmark's own namespace: data, ports and process directories, never shared.

bench/run exports ENV before Python starts, so every process (this one, stack/apps.sh, the extra
Gunicorn instances, the load probes) agrees on it. APP_ENV=test only shifts defaults; each value
that selects data is set explicitly here.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")

ENV = {
    "APP_ENV": "test",
    "STACK_NAMESPACE": "bench",
    "PG_DB": "assessments_bench",
    "REDIS_DB_BROKER": "12",
    "REDIS_DB_CACHE": "13",
    "ES_INDEX_PREFIX": "bench_",
    "TEST_WRITE_PORT": "8500",
    "TEST_SEARCH_PORT": "8501",
    # The per-token search rate limit would throttle the load generator, not measure the API.
    "SEARCH_RATE_LIMIT": "1000000000",
    "SEARCH_RATE_WINDOW_SECONDS": "60",
    "PYTHONPATH": str(ROOT),
}

WRITE_PORT = 8500  # stack/apps.sh "write": through pgBouncer (the product); capture on or off is
# the database's triggers (database.capture_disabled), not an instance
SEARCH_PORT = 8501  # stack/apps.sh "search"
ORM_PORT = 8502  # bench/orm_baseline: Django ORM list views on PostgreSQL
WRITE_NAIVE_PORT = 8504  # NAIVE_COUNTER_UPDATES=true
WRITE_DIRECT_PORT = 8505  # DB_VIA_PGBOUNCER=false, CONN_MAX_AGE=0
WRITE_DIRECT_PERSISTENT_PORT = 8506  # DB_VIA_PGBOUNCER=false, CONN_MAX_AGE=60 (the settings' default when direct)
WRITE_PGBOUNCER_PERSISTENT_PORT = 8507  # through pgBouncer with CONN_MAX_AGE=60
FLOOR_PORT = 8509  # bench/proxy_floor: the floor under any Python search API
# Stage consistency: the same code started the same way, read-your-writes present and absent
# (CONSISTENCY_TOKENS); the product's own processes are started by apps.sh, not comparable.
WRITE_NO_TOKENS_PORT = 8510
SEARCH_NO_TOKENS_PORT = 8511
WRITE_TOKENS_PORT = 8512
SEARCH_TOKENS_PORT = 8513

STACK_HOME = Path(os.environ.get("STACK_HOME", "/var/lib/cqrs-stack"))
STACK_LOGS = Path(os.environ.get("STACK_LOGS", STACK_HOME / "logs"))
RUN_DIR = STACK_HOME / "run" / ENV["STACK_NAMESPACE"]
LOG_DIR = STACK_LOGS / ENV["STACK_NAMESPACE"]
PG_SOCKET_DIR = STACK_HOME / "postgres" / "run"
ES_URL = os.environ.get("ES_URL", "http://127.0.0.1:9200")


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def apply() -> None:
    """For entry points started without bench/run (e.g. a developer's python -m): same namespace."""
    for key, value in ENV.items():
        os.environ[key] = value
