"""Gunicorn for search_api (native stack and compose/ alike)."""
from shared.gunicorn_common import child_exit, post_worker_init, settings_for  # noqa: F401

globals().update(settings_for("search", 8001))
