"""Every environment variable the services read, in one place, with their defaults (docs/CONFIGURATION.md).

APP_ENV=test shifts the defaults to an isolated database, Redis databases and index prefix, so the
test suite can run beside the demo stack on the same servers without touching its data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message is one sentence for the operator."""


_ENV_DEFAULTS = {
    "dev": {"PG_DB": "assessments", "REDIS_DB_BROKER": "0", "REDIS_DB_CACHE": "1", "ES_INDEX_PREFIX": ""},
    "test": {"PG_DB": "assessments_test", "REDIS_DB_BROKER": "2", "REDIS_DB_CACHE": "3", "ES_INDEX_PREFIX": "test_"},
    "production": {},
}
# Production has no defaults for secrets or endpoints: a missing one must fail fast.
_PRODUCTION_REQUIRED = (
    "SECRET_KEY",
    "PG_HOST",
    "PG_DB",
    "PG_USER",
    "PG_PASSWORD",
    "REDIS_URL",
    "ES_URL",
    "ALLOWED_HOSTS",
)


def _env(name: str, default: str | None, app_env: str) -> str:
    value = os.environ.get(name)
    if value not in (None, ""):
        return value
    value = _ENV_DEFAULTS.get(app_env, {}).get(name, default)
    if value is None:
        raise ConfigError(f"Environment variable {name} is required when APP_ENV={app_env}.")
    return value


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _number(name: str, value: str, cast=int):
    try:
        return cast(value)
    except ValueError:
        raise ConfigError(f"Environment variable {name} must be a number.") from None


# Counts are exact up to this many rows (search_api/query_builder.py COUNT_BOUND): a larger
# threshold could never be compared with an exact count.
MAX_TYPO_THRESHOLD = 10_000


def _typo_threshold(value: str) -> int:
    threshold = _number("SEARCH_TYPO_THRESHOLD", value)
    if not 0 <= threshold <= MAX_TYPO_THRESHOLD:
        raise ConfigError(f"Environment variable SEARCH_TYPO_THRESHOLD must be between 0 and {MAX_TYPO_THRESHOLD}.")
    return threshold


@dataclass(frozen=True)
class Config:
    app_env: str
    debug: bool
    secret_key: str
    allowed_hosts: list[str]
    pg_host: str
    pg_port: int
    # The primary itself, never pgBouncer: the change listener's LISTEN needs a session of its own.
    pg_primary_host: str
    pg_replica_host: str
    pg_replica_port: int
    pgbouncer_port: int
    db_via_pgbouncer: bool
    pg_db: str
    pg_user: str
    pg_password: str
    redis_url: str
    redis_db_broker: int
    redis_db_cache: int
    # One node's URL or several, comma-separated: the client spreads requests over them and a
    # request that fails on one node is retried on another.
    es_url: str
    es_username: str
    es_password: str
    es_ca_certs: str  # a CA bundle to verify https nodes with (compose's secured cluster)
    # The cluster topology's failover managers, for pipeline_status (empty: not managed by Patroni).
    patroni_urls: list[str]
    etcd_urls: list[str]
    es_index_prefix: str
    es_number_of_replicas: int
    es_refresh_interval: str
    write_port: int
    search_port: int
    static_url: str
    slow_query_ms: int
    # search_api only: fixed window per token (SEARCH_RATE_LIMIT requests per
    # SEARCH_RATE_WINDOW_SECONDS), and the Elasticsearch timeout of one search.
    search_rate_limit: int
    search_rate_window_seconds: int
    search_es_timeout_seconds: float
    # How long a write with `Prefer: wait-for=indexed` or a read with a consistency token waits.
    consistency_wait_seconds: float
    consistency_wait_max_seconds: float
    # Typos widen q only when its exact form (stems included) finds fewer rows than this; 0: never.
    search_typo_threshold: int
    # How long the search API keeps an index's synonyms before reading them again (shared/synonyms.py).
    search_synonyms_ttl_seconds: float
    # Benchmark baselines only (bench/): never switched in a deployment.
    naive_counter_updates: bool
    consistency_tokens: bool  # false: writes issue no token and reads ignore one (the feature absent)

    @property
    def es_nodes(self) -> list[str]:
        return _list(self.es_url)

    @property
    def broker_url(self) -> str:
        return f"{self.redis_url.rstrip('/')}/{self.redis_db_broker}"

    @property
    def cache_url(self) -> str:
        return f"{self.redis_url.rstrip('/')}/{self.redis_db_cache}"


def load_config() -> Config:
    app_env = os.environ.get("APP_ENV", "dev")
    if app_env not in _ENV_DEFAULTS:
        raise ConfigError(f"APP_ENV must be one of {sorted(_ENV_DEFAULTS)}, not {app_env!r}.")
    if app_env == "production":
        missing = [name for name in _PRODUCTION_REQUIRED if not os.environ.get(name)]
        if missing:
            raise ConfigError(f"Missing required production setting(s): {', '.join(missing)}.")

    def env(name: str, default: str | None = None) -> str:
        return _env(name, default, app_env)

    try:
        return Config(
            app_env=app_env,
            debug=_bool(env("DEBUG", "false")),
            secret_key=env("SECRET_KEY", "dev-only-insecure-secret-key-change-me-0123456789"),
            allowed_hosts=[h.strip() for h in env("ALLOWED_HOSTS", "*").split(",") if h.strip()],
            pg_host=env("PG_HOST", "127.0.0.1"),
            pg_port=int(env("PG_PORT", "5432")),
            pg_primary_host=env("PG_PRIMARY_HOST", env("PG_HOST", "127.0.0.1")),
            pg_replica_host=env("PG_REPLICA_HOST", env("PG_HOST", "127.0.0.1")),
            pg_replica_port=int(env("PG_REPLICA_PORT", "5433")),
            pgbouncer_port=int(env("PGBOUNCER_PORT", "6432")),
            db_via_pgbouncer=_bool(env("DB_VIA_PGBOUNCER", "true")),
            pg_db=env("PG_DB"),
            pg_user=env("PG_USER", "app"),
            pg_password=env("PG_PASSWORD", "app"),
            redis_url=env("REDIS_URL", "redis://127.0.0.1:6379"),
            redis_db_broker=int(env("REDIS_DB_BROKER")),
            redis_db_cache=int(env("REDIS_DB_CACHE")),
            es_url=env("ES_URL", "http://127.0.0.1:9200"),
            es_username=env("ES_USERNAME", ""),
            es_password=env("ES_PASSWORD", ""),
            es_ca_certs=env("ES_CA_CERTS", ""),
            patroni_urls=_list(env("PATRONI_URLS", "")),
            etcd_urls=_list(env("ETCD_URLS", "")),
            es_index_prefix=env("ES_INDEX_PREFIX"),
            es_number_of_replicas=int(env("ES_NUMBER_OF_REPLICAS", "0")),
            es_refresh_interval=env("ES_REFRESH_INTERVAL", "1s"),
            write_port=int(env("WRITE_PORT", "8000")),
            search_port=int(env("SEARCH_PORT", "8001")),
            static_url=env("STATIC_URL", "/static/"),
            slow_query_ms=int(env("SLOW_QUERY_MS", "200")),
            search_rate_limit=_number("SEARCH_RATE_LIMIT", env("SEARCH_RATE_LIMIT", "600")),
            search_rate_window_seconds=_number("SEARCH_RATE_WINDOW_SECONDS", env("SEARCH_RATE_WINDOW_SECONDS", "60")),
            search_es_timeout_seconds=_number(
                "SEARCH_ES_TIMEOUT_SECONDS", env("SEARCH_ES_TIMEOUT_SECONDS", "10"), float
            ),
            consistency_wait_seconds=_number("CONSISTENCY_WAIT_SECONDS", env("CONSISTENCY_WAIT_SECONDS", "5"), float),
            consistency_wait_max_seconds=_number(
                "CONSISTENCY_WAIT_MAX_SECONDS", env("CONSISTENCY_WAIT_MAX_SECONDS", "10"), float
            ),
            search_typo_threshold=_typo_threshold(env("SEARCH_TYPO_THRESHOLD", "1")),
            search_synonyms_ttl_seconds=_number(
                "SEARCH_SYNONYMS_TTL_SECONDS", env("SEARCH_SYNONYMS_TTL_SECONDS", "5"), float
            ),
            naive_counter_updates=_bool(env("NAIVE_COUNTER_UPDATES", "false")),
            consistency_tokens=_bool(env("CONSISTENCY_TOKENS", "true")),
        )
    except ValueError as exc:
        raise ConfigError(f"A numeric setting is malformed: {exc}.") from exc
