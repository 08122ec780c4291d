"""WSGI entry point of write_service (Gunicorn: write_service.wsgi:application)."""
import os
import sys

from django.core.wsgi import get_wsgi_application

from shared.config import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.base")
try:
    application = get_wsgi_application()
except ConfigError as exc:
    # One sentence instead of a traceback per worker; exit code 4 is Gunicorn's "App failed to
    # load", which stops the arbiter instead of respawning workers that can never boot.
    sys.stderr.write(f"{exc}\n")
    sys.exit(4)
