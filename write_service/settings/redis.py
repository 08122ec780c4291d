"""Redis caches. One Redis database, no eviction (see stack/conf/redis.conf): sessions and the auth
cache are the source of truth for the read API, so they must never vanish silently."""
from shared.config import Config


def cache_settings(config: Config) -> dict:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": config.cache_url,
            "KEY_PREFIX": "cqrs",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
                "CONNECTION_POOL_KWARGS": {"max_connections": 64},
            },
        },
    }
