"""The retry policy of the tasks that write documents or counters."""

from read_indexer.celery_config import MAX_RETRIES, RETRY_BACKOFF_MAX

RETRYING = {
    "autoretry_for": (Exception,),
    "max_retries": MAX_RETRIES,
    "retry_backoff": 1,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
}
