"""Coalesced leaderboard recompute: at most one running and one pending per assessment.

A submission moves every taker's rank and percentile; a cut-off or status change moves every
attempt's `qualified` / visibility. Recomputing per event would be O(events x takers), so
changes only set a pending flag; one task re-projects the whole assessment from a single window
query, and changes that land while it runs schedule exactly one more run.

A recompute has no outbox event of its own, so its need is also kept in Redis (`due`: assessment
-> its oldest change not yet served), cleared only by a recompute that started after the latest
change and finished. If the task is lost (its worker killed, the broker down when it was sent),
the relay sweep (`overdue`, every few seconds from beat) sends it again: nothing waits for the
broker's visibility timeout.
"""
from __future__ import annotations

import time
import uuid

import structlog
from django_redis import get_redis_connection

from read_indexer.documents import write_documents
from read_indexer.projections import project_assessment_attempts

log = structlog.get_logger(__name__)
PENDING_KEY = "fanout:pending:{assessment_id}"
RUNNING_KEY = "fanout:running:{assessment_id}"
PENDING_TTL_SECONDS = 120  # a lost task cannot block recomputes for longer than this
# Renewed after every chunk written (a heartbeat), so a killed worker's lock lapses within this.
RUNNING_TTL_SECONDS = 20
WRITE_CHUNK = 5000  # documents per heartbeat; a chunk takes about a second
DUE_KEY = "fanout:due"          # assessment -> time of its oldest change no recompute has served yet
CHANGED_KEY = "fanout:changed"  # assessment -> time of its latest change
OVERDUE_AFTER_SECONDS = 15  # well above a normal queue wait; well below the fault tests' 60 s bound
# After a recompute that started at ARGV[2]: served, unless a change came in after it started
# (then that change becomes the oldest unserved one).
_MARK_SERVED = """
local latest = redis.call('HGET', KEYS[2], ARGV[1])
if latest and tonumber(latest) > tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], latest, ARGV[1])
  return 0
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""
_EXTEND_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class RecomputeBusy(Exception):
    """Another recompute of the same assessment is running; the caller retries shortly."""


def should_schedule(assessment_id: int) -> bool:
    """True if the caller must enqueue a recompute (no other one is pending)."""
    redis = get_redis_connection("default")
    now = time.time()
    with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(DUE_KEY, {str(assessment_id): now}, nx=True)
        pipe.hset(CHANGED_KEY, str(assessment_id), now)
        pipe.set(PENDING_KEY.format(assessment_id=assessment_id), "1", nx=True, ex=PENDING_TTL_SECONDS)
        *_, scheduled = pipe.execute()
    return bool(scheduled)


def overdue(limit: int = 500) -> list[int]:
    """Assessments changed more than OVERDUE_AFTER_SECONDS ago with no recompute finished since,
    and none running now; their due time is pushed forward so the next sweep waits again."""
    redis = get_redis_connection("default")
    now = time.time()
    members = redis.zrangebyscore(DUE_KEY, "-inf", now - OVERDUE_AFTER_SECONDS, start=0, num=limit)
    ids = [int(member) for member in members]
    if not ids:
        return []
    running = redis.mget([RUNNING_KEY.format(assessment_id=i) for i in ids])
    ids = [i for i, lock in zip(ids, running) if lock is None]
    if ids:
        redis.zadd(DUE_KEY, {str(i): now for i in ids}, xx=True)
    return ids


def recompute(assessment_id: int) -> int:
    redis = get_redis_connection("default")
    running_key = RUNNING_KEY.format(assessment_id=assessment_id)
    token = uuid.uuid4().hex
    if not redis.set(running_key, token, nx=True, ex=RUNNING_TTL_SECONDS):
        raise RecomputeBusy(assessment_id)
    started = time.time()
    try:
        # Cleared before reading: a change committed from now on schedules one more run.
        redis.delete(PENDING_KEY.format(assessment_id=assessment_id))
        documents, written = project_assessment_attempts(assessment_id), 0
        for start in range(0, len(documents), WRITE_CHUNK):
            written += write_documents("attempts", documents[start:start + WRITE_CHUNK])
            redis.eval(_EXTEND_IF_OURS, 1, running_key, token, RUNNING_TTL_SECONDS)  # heartbeat
        redis.eval(_MARK_SERVED, 2, DUE_KEY, CHANGED_KEY, str(assessment_id), started)
        return written
    finally:
        if redis.get(running_key) == token.encode():
            redis.delete(running_key)
