"""Gunicorn entry point of the ORM baseline: bench.orm_baseline.wsgi:application."""

import os

from django.core.wsgi import get_wsgi_application

# Assigned, not setdefault: the benchmark's own environment carries write_service's settings.
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.orm_baseline.settings"
application = get_wsgi_application()
