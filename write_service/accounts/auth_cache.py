"""Fills and invalidates the Redis authentication cache (schema in shared.auth_cache)."""

from __future__ import annotations

import orjson
from django.db import transaction
from django_redis import get_redis_connection

from shared.auth_cache import TOKEN_KEY, CachedToken, CachedUser, token_key, user_key
from shared.request_timing import timed
from write_service.accounts.models import ApiToken, User

USER_TTL_SECONDS = 7 * 24 * 3600


def _redis():
    return get_redis_connection("default")


def user_payload(user: User) -> CachedUser:
    return CachedUser(
        id=user.pk,
        username=user.username,
        organisation_id=user.organisation_id,
        role=user.role,
        display_name=user.public_name,
        is_active=user.is_active,
        session_auth_hash=user.get_session_auth_hash(),
    )


def cache_user(user: User) -> None:
    _redis().set(user_key(user.pk), orjson.dumps(user_payload(user)), ex=USER_TTL_SECONDS)


def get_cached_user(user_id: int) -> CachedUser | None:
    with timed("cache"):
        raw = _redis().get(user_key(user_id))
    return orjson.loads(raw) if raw else None


def refresh_user_after_commit(user: User) -> None:
    """Cache after commit only: a rolled-back change must never reach the cache."""
    transaction.on_commit(lambda: cache_user(user))


def cache_token(raw_token: str, token: ApiToken) -> None:
    ttl = max(1, int(token.expires_at.timestamp() - token.created_at.timestamp()))
    payload = CachedToken(user_id=token.user_id, expires_at=token.expires_at.timestamp())
    _redis().set(token_key(raw_token), orjson.dumps(payload), ex=ttl)


def get_cached_token(raw_token: str) -> CachedToken | None:
    with timed("cache"):
        raw = _redis().get(token_key(raw_token))
    return orjson.loads(raw) if raw else None


def forget_token_hash(key_hash: str) -> None:
    _redis().delete(TOKEN_KEY.format(key_hash=key_hash))
