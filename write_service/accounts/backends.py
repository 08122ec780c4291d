"""Session authentication whose per-request user lookup comes from Redis, not PostgreSQL."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from write_service.accounts.auth_cache import cache_user, get_cached_user
from write_service.accounts.models import User


def user_from_cache(user_id: int) -> User | None:
    """An unsaved User built from the cache; falls back to the primary once and refills."""
    cached = get_cached_user(user_id)
    if cached is None:
        user = User.objects.using("default").filter(pk=user_id).first()
        if user is not None:
            cache_user(user)
        return user
    user = User(
        id=cached["id"],
        username=cached["username"],
        organisation_id=cached["organisation_id"],
        role=cached["role"],
        display_name=cached["display_name"],
        is_active=cached["is_active"],
    )
    user.cached_session_auth_hash = cached["session_auth_hash"]
    user._state.adding = False
    user._state.db = "default"
    return user


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id):
        user = user_from_cache(int(user_id))
        return user if user is not None and self.user_can_authenticate(user) else None
