"""Organisations, users and API tokens.

A custom user model (not a profile): every request needs organisation and role, and a profile
would cost a join or a second cache entry on every authentication. Django recommends starting
with a custom user because switching later is painful.
"""

from django.contrib.auth.models import AbstractUser
from django.db import models

from write_service.platform.models import VersionedModel


class Organisation(VersionedModel):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    STAFF = "staff"
    CANDIDATE = "candidate"


class User(AbstractUser, VersionedModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, related_name="users")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CANDIDATE)
    display_name = models.CharField(max_length=150, blank=True)

    cached_session_auth_hash: str | None = None

    def get_session_auth_hash(self) -> str:
        # A user rebuilt from the Redis cache has no password hash; it carries the HMAC instead.
        return self.cached_session_auth_hash or super().get_session_auth_hash()

    @property
    def is_org_staff(self) -> bool:
        return self.role == Role.STAFF and self.organisation_id is not None

    @property
    def public_name(self) -> str:
        return self.display_name or self.username


class ApiToken(models.Model):
    """Only the SHA-256 of a token is stored; the token itself is shown once, at issue time."""

    key_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
