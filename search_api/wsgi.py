"""WSGI entry point of search_api (Gunicorn: search_api.wsgi:application)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "search_api.settings")
application = get_wsgi_application()
