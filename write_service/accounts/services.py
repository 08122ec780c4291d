"""Write use-cases of accounts: organisations, users, API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from shared.auth_cache import token_hash
from write_service.accounts import auth_cache
from write_service.accounts.models import ApiToken, Organisation, Role, User
from write_service.platform.errors import Conflict, Forbidden, ServiceValidationError


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ServiceValidationError({"password": list(exc.messages)}) from None


@transaction.atomic
def organisation_create(*, name: str, admin_username: str, admin_password: str) -> tuple[Organisation, User]:
    if Organisation.objects.filter(name=name).exists():
        raise Conflict({"name": [f"An organisation named {name!r} already exists."]})
    organisation = Organisation.objects.create(name=name)
    admin = user_create(
        actor=None, organisation=organisation, username=admin_username, password=admin_password, role=Role.STAFF
    )
    return organisation, admin


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    password: str,
    role: str,
    organisation: Organisation | None = None,
    display_name: str = "",
    email: str = "",
) -> User:
    """Staff create users of their own organisation; `actor=None` is the operator's CLI."""
    organisation_id = organisation.pk if organisation is not None else None
    if actor is not None:
        if not actor.is_org_staff:
            raise Forbidden("Only organisation staff can create users.")
        organisation_id = actor.organisation_id
    if User.objects.filter(username=username).exists():
        raise Conflict({"username": ["This username is taken."]})
    _check_password(password)
    user = User(username=username, email=email, role=role, display_name=display_name, organisation_id=organisation_id)
    user.set_password(password)
    user.save()
    auth_cache.refresh_user_after_commit(user)
    return user


@transaction.atomic
def token_issue(*, username: str, password: str) -> str:
    user = authenticate(username=username, password=password)
    if user is None or not user.is_active:
        raise ServiceValidationError({"non_field_errors": ["Unable to log in with the given credentials."]})
    raw_token = secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        key_hash=token_hash(raw_token),
        user=user,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.AUTH_TOKEN_TTL_SECONDS),
    )
    auth_cache.cache_user(user)
    transaction.on_commit(lambda: auth_cache.cache_token(raw_token, token))
    return raw_token


@transaction.atomic
def token_revoke(*, user: User, raw_token: str) -> None:
    key_hash = token_hash(raw_token)
    ApiToken.objects.filter(user_id=user.pk, key_hash=key_hash).update(revoked_at=timezone.now())
    transaction.on_commit(lambda: auth_cache.forget_token_hash(key_hash))
