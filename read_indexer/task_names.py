"""Celery task names and queues of read_indexer: the contract between its senders (the change
listener, the relays, beat) and its workers."""

PROJECT_EVENTS = "read_indexer.project_events_task"
APPLY_COUNTERS = "read_indexer.apply_counters_task"
FAN_OUT = "read_indexer.fan_out_task"
OUTBOX_RELAY = "read_indexer.outbox_relay_task"
RECONCILE_COUNTERS = "read_indexer.reconcile_counters_task"
OUTBOX_CLEANUP = "read_indexer.outbox_cleanup_task"
DRIFT_SWEEP = "read_indexer.drift_sweep_task"
PING = "read_indexer.ping_task"

QUEUE_INDEXING = "indexing"
QUEUE_COUNTERS = "counters"
QUEUE_FANOUT = "fanout"  # changes that reach every child document (read_indexer/projection/fanout.py)
QUEUE_MAINTENANCE = "maintenance"
ALL_QUEUES = (QUEUE_INDEXING, QUEUE_COUNTERS, QUEUE_FANOUT, QUEUE_MAINTENANCE)

TASK_QUEUES = {
    PROJECT_EVENTS: QUEUE_INDEXING,
    APPLY_COUNTERS: QUEUE_COUNTERS,
    RECONCILE_COUNTERS: QUEUE_MAINTENANCE,
    FAN_OUT: QUEUE_FANOUT,
    OUTBOX_RELAY: QUEUE_MAINTENANCE,
    OUTBOX_CLEANUP: QUEUE_MAINTENANCE,
    DRIFT_SWEEP: QUEUE_MAINTENANCE,
    PING: QUEUE_MAINTENANCE,
}

# Redis keys shared by the change listener and the workers, for coalescing.
COUNTERS_SCHEDULED_KEY = "pipeline:counters:scheduled"
