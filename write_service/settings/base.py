"""Base settings for write_service; every value comes from shared.config (environment variables)."""

from pathlib import Path

from shared.config import load_config
from shared.redis_cache import cache_settings, session_settings
from shared.structured_logging import configure_structlog, logging_dict_config

from .databases import database_settings

CONFIG = load_config()
BASE_DIR = Path(__file__).resolve().parents[2]

SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts
APP_ENV = CONFIG.app_env

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "write_service.platform",
    "write_service.accounts",
    "write_service.assessments",
    "write_service.discussions",
    "write_service.outbox",
    "read_indexer",  # its operator commands (manage.py) and its scrape-time gauges on /metrics
]

MIDDLEWARE = [
    "write_service.platform.metrics.RequestMetricsMiddleware",  # first: its latency covers the rest
    "write_service.platform.middleware.ServerTimingMiddleware",
    "write_service.platform.middleware.RequestSizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "write_service.urls"
WSGI_APPLICATION = "write_service.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["write_service.accounts.backends.CachedModelBackend"]

DATABASES = database_settings(CONFIG)
DATABASE_ROUTERS = ["write_service.platform.db_router.PrimaryReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = cache_settings(CONFIG)
# Sessions live only in Redis (no-eviction, AOF-persisted): no SQL to load a session, and the
# read API resolves the same session from the same cache (shared.redis_cache).
globals().update(session_settings())
SESSION_COOKIE_AGE = 14 * 24 * 3600
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False


TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = CONFIG.static_url  # point at a CDN in production; names are content-hashed
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}

# Requests above this size are refused with 413 before any parsing.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "write_service.accounts.authentication.CachedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # enforces CSRF on session writes
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["write_service.platform.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "write_service.platform.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Assessment platform write API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "write_service.platform.openapi.consistency_headers",
    ],
}

SLOW_QUERY_MS = CONFIG.slow_query_ms
# Benchmark baseline only (bench/): hand-rolled synchronous counters.
NAIVE_COUNTER_UPDATES = CONFIG.naive_counter_updates
# How long a client that just wrote keeps reading from the primary (read-your-writes).
READ_YOUR_WRITES_SECONDS = 5
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
AUTH_TOKEN_TTL_SECONDS = 30 * 24 * 3600

LOGGING = logging_dict_config("INFO")
configure_structlog()

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
