"""The projection side: Celery workers that turn outbox events into counters and search documents."""
