"""Settings of search_api: no database at all (DATABASES = {}), so no code path can run SQL.

Shared values come from shared.config (environment variables, one place); the cache and session
configuration is the one write_service uses (shared.redis_cache), so sessions and auth entries
written there resolve here.
"""

from shared.config import load_config
from shared.redis_cache import cache_settings, session_settings
from shared.structured_logging import configure_structlog, logging_dict_config

CONFIG = load_config()


APP_ENV = CONFIG.app_env

SECRET_KEY = CONFIG.secret_key  # the write side's key: cursors are signed with a salt of our own
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts

INSTALLED_APPS: list[str] = []
DATABASES: dict = {}  # the read path runs no SQL (docs/ARCHITECTURE.md, "Guarantees")

MIDDLEWARE = ["search_api.middleware.RequestContextMiddleware"]
ROOT_URLCONF = "search_api.urls"
WSGI_APPLICATION = "search_api.wsgi.application"
APPEND_SLASH = False

CACHES = cache_settings(CONFIG)
globals().update(session_settings())

if APP_ENV == "production":
    # Behind NGINX (TLS there): `next` links must carry the client's scheme and host.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

# A GET carries its parameters in the query string; a few dozen is plenty, thousands is an attack.
DATA_UPLOAD_MAX_NUMBER_FIELDS = 64
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * 1024

# Search-only knobs (shared.config). Fixed window per token: SEARCH_RATE_LIMIT requests per
# SEARCH_RATE_WINDOW_SECONDS.
SEARCH_RATE_LIMIT = CONFIG.search_rate_limit
SEARCH_RATE_WINDOW_SECONDS = CONFIG.search_rate_window_seconds
# A stuck search is a clean 503 after this long (the server, search_api/server.py, has no request timeout).
SEARCH_ES_TIMEOUT_SECONDS = CONFIG.search_es_timeout_seconds
SLOW_SEARCH_MS = CONFIG.slow_query_ms
# q's typos apply only when its exact form finds fewer rows than this (query_builder.py, selectors.py).
SEARCH_TYPO_THRESHOLD = CONFIG.search_typo_threshold
# A synonym change reaches q within this many seconds (one read per index and process per period).
SEARCH_SYNONYMS_TTL_SECONDS = CONFIG.search_synonyms_ttl_seconds

LOGGING = logging_dict_config("INFO")
configure_structlog()
