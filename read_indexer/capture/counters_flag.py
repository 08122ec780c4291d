"""At most one pending counters flush at a time: a burst of changes becomes one batch.

The flag holds the token of the task it scheduled, and only that task clears it (just before it
claims changes), so a change committed after the claim schedules the next flush. Flushes from
elsewhere (beat, the relay, a full batch) leave it alone: if any task could clear it, each would
start one more self-renewing chain, and the flush rate would grow all day. A flag whose task was
lost expires, and beat flushes regularly too.
May touch: one Redis key (read_indexer.task_names.COUNTERS_SCHEDULED_KEY).
"""

from __future__ import annotations

import uuid

from django_redis import get_redis_connection

from read_indexer import task_names

_DELETE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def claim(ttl_ms: int) -> str | None:
    """A new token if no flush is pending (the caller then schedules the flush carrying it)."""
    token = uuid.uuid4().hex
    if get_redis_connection("default").set(task_names.COUNTERS_SCHEDULED_KEY, token, nx=True, px=ttl_ms):
        return token
    return None


def clear(token: str) -> None:
    get_redis_connection("default").eval(_DELETE_IF_OURS, 1, task_names.COUNTERS_SCHEDULED_KEY, token)
