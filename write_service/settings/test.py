"""Test settings: the isolated database/Redis/index prefix of APP_ENV=test (see shared.config)."""

import os

os.environ.setdefault("APP_ENV", "test")

from .base import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
