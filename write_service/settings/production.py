"""Production settings: fail fast on any missing variable (shared.config), hardened cookies."""

import os

os.environ.setdefault("APP_ENV", "production")

from .base import *  # noqa: E402,F401,F403

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = True
