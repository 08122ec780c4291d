"""Gunicorn for write_service (native stack and compose/ alike)."""
from shared.gunicorn_common import child_exit, post_worker_init, settings_for  # noqa: F401

globals().update(settings_for("write", 8000))
