"""Authentication from the Redis cache the write side fills; never SQL (there is no database).

- `Authorization: Token <t>`: shared.auth_cache.token_key(t) -> {user_id, expires_at}, then
  user_key(user_id) -> the cached user. Tokens are cached for their whole life when issued.
- Session cookie: the write side's cache-backed session (same Redis, same key prefix; see
  shared.redis_cache), whose `_auth_user_hash` must equal the cached user's session_auth_hash
  (a password change ends every session, as in Django).

Any miss is a 401: a token or session unknown to the cache is not valid here. The user entry is
refreshed by the write side on token issue, login and every change; a client whose user entry
has expired gets it back by calling the write API once (it refills the entry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import import_module

import orjson
from django.conf import settings
from django.utils.crypto import constant_time_compare
from django_redis import get_redis_connection

from search_api.errors import Unauthorized
from shared import request_timing as timing
from shared.auth_cache import token_hash, token_key, user_key

MAX_TOKEN_LENGTH = 256
STAFF = "staff"


@dataclass(frozen=True)
class Principal:
    user_id: int
    organisation_id: int | None
    role: str
    credential: str  # what rate limits count against: "token:<sha256>" or "user:<id>"

    @property
    def is_org_staff(self) -> bool:
        return self.role == STAFF and self.organisation_id is not None


def cache_redis():
    """The raw connection to the cache database (values are JSON written by the write side)."""
    return get_redis_connection("default")


def authenticate(request) -> Principal:
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        return _from_token(token_from_header(header))
    session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if session_key:
        return _from_session(session_key)
    raise Unauthorized("Authentication credentials were not provided: send 'Authorization: Token <token>'.")


def token_from_header(header: str) -> str:
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "token":
        raise Unauthorized("Invalid Authorization header: expected 'Token <token>'.")
    token = parts[1]
    if len(token) > MAX_TOKEN_LENGTH or not token.isascii() or not token.isprintable():
        raise Unauthorized("Invalid token.")
    return token


def token_credential(raw_token: str) -> str:
    return f"token:{token_hash(raw_token)}"


def _from_token(raw_token: str) -> Principal:
    with timing.timed("redis"):
        cached = cache_redis().get(token_key(raw_token))
    return principal_for_token(cached, token_credential(raw_token))


_NOT_READ = object()


def principal_for_token(cached_token: bytes | None, credential: str, *, cached_user=_NOT_READ) -> Principal:
    """The principal of a token entry read from the cache (None: unknown token): 401 unless valid.

    `cached_user`: the token's user entry when the caller already read it; otherwise, or when
    that read found none (None), it is read here by the token's user_id."""
    token = orjson.loads(cached_token) if cached_token else None
    if token is None or token["expires_at"] < time.time():
        raise Unauthorized("Invalid, expired or revoked token.")
    if cached_user is _NOT_READ or cached_user is None:
        return _principal(_cached_user(token["user_id"]), credential=credential)
    return _principal(_user_from_entry(cached_user), credential=credential)


def _from_session(session_key: str) -> Principal:
    engine = import_module(settings.SESSION_ENGINE)
    with timing.timed("redis"):
        session = engine.SessionStore(session_key)
        user_id, session_hash = session.get("_auth_user_id"), session.get("_auth_user_hash")
    if user_id is None or session_hash is None:
        raise Unauthorized("Session expired or not logged in.")
    try:
        user = _cached_user(int(user_id))
    except ValueError:
        raise Unauthorized("Session expired or not logged in.") from None
    if not constant_time_compare(session_hash, user.get("session_auth_hash") or ""):
        raise Unauthorized("Session ended (the password changed); log in again.")
    return _principal(user, credential=f"user:{user['id']}")


def _cached_user(user_id: int) -> dict:
    with timing.timed("redis"):
        cached = cache_redis().get(user_key(user_id))
    return _user_from_entry(cached)


def _user_from_entry(cached: bytes | None) -> dict:
    if not cached:
        raise Unauthorized("User not known to the read API yet; call the write API once, then retry.")
    user = orjson.loads(cached)
    if not user.get("is_active"):
        raise Unauthorized("User inactive or deleted.")
    return user


def _principal(user: dict, *, credential: str) -> Principal:
    return Principal(
        user_id=user["id"],
        organisation_id=user.get("organisation_id"),
        role=user.get("role", ""),
        credential=credential,
    )
