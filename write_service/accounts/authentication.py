"""DRF token authentication served from Redis: no SQL once the cache is warm.

A token missing from the cache is invalid (tokens are cached when issued, for their whole life,
in a no-eviction Redis; revocation deletes them), so a miss is a 401, never a database lookup.
"""

from __future__ import annotations

import time

from rest_framework import authentication, exceptions

from write_service.accounts.auth_cache import get_cached_token
from write_service.accounts.backends import user_from_cache


class CachedTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: expected 'Token <token>'.")
        try:
            raw_token = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token header: the token is not ASCII.") from None
        cached = get_cached_token(raw_token)
        if cached is None or cached["expires_at"] < time.time():
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        user = user_from_cache(cached["user_id"])
        if user is None or not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, raw_token

    def authenticate_header(self, request):
        return self.keyword
