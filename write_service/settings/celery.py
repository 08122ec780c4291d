"""Celery wiring for the publisher side; the worker side lives in read_indexer.celery_app."""
from shared.config import Config


def celery_settings(config: Config) -> dict:
    return {"CELERY_BROKER_URL": config.broker_url}
