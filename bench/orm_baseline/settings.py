"""write_service's settings (same database routing, Redis auth cache, middleware), other URLs."""

from write_service.settings.base import *  # noqa: F401,F403

ROOT_URLCONF = "bench.orm_baseline.urls"
