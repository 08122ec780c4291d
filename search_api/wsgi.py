"""WSGI entry point of search_api (Gunicorn: search_api.wsgi:application)."""
import os

from django.core.wsgi import get_wsgi_application

# Assigned, not setdefault: a DJANGO_SETTINGS_MODULE inherited from the write side's environment
# (a shell, or pytest-django starting us) must never turn this process into the write service.
os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("SEARCH_SETTINGS_MODULE", "search_api.settings")
application = get_wsgi_application()
