"""Celery task names and queues: the only contract between publishers and read_indexer workers."""

PROJECT_EVENTS = "read_indexer.project_events_task"
APPLY_COUNTERS = "read_indexer.apply_counters_task"
TOMBSTONE_ATTEMPTS = "read_indexer.tombstone_attempts_task"
PROJECT_DOCUMENTS = "read_indexer.project_documents_task"
OUTBOX_RELAY = "read_indexer.outbox_relay_task"
RECONCILE_COUNTERS = "read_indexer.reconcile_counters_task"
OUTBOX_CLEANUP = "read_indexer.outbox_cleanup_task"
PING = "read_indexer.ping_task"

QUEUE_INDEXING = "indexing"
QUEUE_COUNTERS = "counters"
QUEUE_FANOUT = "fanout"  # the deletion fan-out (read_indexer/deletion_fanout.py)
QUEUE_MAINTENANCE = "maintenance"
ALL_QUEUES = (QUEUE_INDEXING, QUEUE_COUNTERS, QUEUE_FANOUT, QUEUE_MAINTENANCE)

TASK_QUEUES = {
    PROJECT_EVENTS: QUEUE_INDEXING,
    PROJECT_DOCUMENTS: QUEUE_INDEXING,
    APPLY_COUNTERS: QUEUE_COUNTERS,
    RECONCILE_COUNTERS: QUEUE_MAINTENANCE,
    TOMBSTONE_ATTEMPTS: QUEUE_FANOUT,
    OUTBOX_RELAY: QUEUE_MAINTENANCE,
    OUTBOX_CLEANUP: QUEUE_MAINTENANCE,
    PING: QUEUE_MAINTENANCE,
}

# Redis keys shared by the publisher (write side) and the workers, for coalescing.
COUNTERS_SCHEDULED_KEY = "pipeline:counters:scheduled"
