"""Celery tasks, one module per queue (read_indexer.task_names routes each name to its queue).

Tasks are thin: they take ids (or nothing), call one function of read_indexer, and carry the
retry policy. Every task is idempotent, so late acks + reject-on-worker-lost
(read_indexer.celery_config) can redeliver any of them after a crash without harm. Imported here so
`autodiscover_tasks` registers every queue's tasks.
"""

from read_indexer.tasks import counters, fanout, indexing, maintenance  # noqa: F401
