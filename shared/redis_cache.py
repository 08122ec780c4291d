"""The Redis cache and session configuration that write_service and search_api must share.

search_api resolves the sessions and auth entries that write_service writes, so both must agree on
the cache location, key prefix and session engine; a drift here silently logs every browser out
of the read API. One definition, imported by both settings modules.
"""

from __future__ import annotations

from shared.config import Config

CACHE_KEY_PREFIX = "cqrs"
SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "default"
SESSION_COOKIE_NAME = "sessionid"


def cache_settings(config: Config, *, max_connections: int = 64) -> dict:
    """Django CACHES: one Redis database, no eviction (stack/conf/redis.conf): sessions and the
    auth cache are the source of truth for the read API, so they must never vanish silently."""
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": config.cache_url,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                "CONNECTION_POOL_KWARGS": {"max_connections": max_connections},
            },
        },
    }


def session_settings() -> dict:
    """Sessions live only in the cache: loading one runs no SQL on either service."""
    return {
        "SESSION_ENGINE": SESSION_ENGINE,
        "SESSION_CACHE_ALIAS": SESSION_CACHE_ALIAS,
        "SESSION_COOKIE_NAME": SESSION_COOKIE_NAME,
    }
