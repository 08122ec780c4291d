"""WSGI entry point of search_api (search_api/server.py serves it with Granian)."""

import os
import sys

from django.core.wsgi import get_wsgi_application

from shared.config import ConfigError

# Assigned, not setdefault: a DJANGO_SETTINGS_MODULE inherited from the write side's environment
# (a shell, or pytest-django starting us) must never turn this process into the write service.
os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("SEARCH_SETTINGS_MODULE", "search_api.settings")
try:
    application = get_wsgi_application()
    # Every view imported before the first request (Django loads the URLconf lazily): a worker's
    # first request is no slower than the rest and its memory is at its working size from boot.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (the import is the point)
except ConfigError as exc:
    # One sentence instead of a traceback per worker, and server.py's exit code for a bad
    # environment (4). server.py checks the environment before any worker starts, so this is what
    # only loading the app shows; Granian respawns a worker that exits and gives up (a crash loop)
    # when the new one fails again within seconds.
    sys.stderr.write(f"{exc}\n")
    sys.exit(4)
