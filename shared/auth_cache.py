"""Key schema and payloads of the authentication cache in Redis.

The write side fills it (tokens at issue, users on every change) and the read API only reads it,
so authenticating a request runs no SQL on either side once warm. Values are JSON, not pickles,
so any service can read them.
"""

from __future__ import annotations

import hashlib
from typing import TypedDict

TOKEN_KEY = "auth:token:{key_hash}"
USER_KEY = "auth:user:{user_id}"


class CachedUser(TypedDict):
    id: int
    username: str
    organisation_id: int | None
    role: str
    display_name: str
    is_active: bool
    # HMAC of the password hash (never the hash itself): a password change ends every session.
    session_auth_hash: str


class CachedToken(TypedDict):
    user_id: int
    expires_at: float  # epoch seconds


def token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def token_key(raw_token: str) -> str:
    return TOKEN_KEY.format(key_hash=token_hash(raw_token))


def user_key(user_id: int) -> str:
    return USER_KEY.format(user_id=user_id)
