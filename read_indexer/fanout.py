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
# Times come from Redis's clock, never a worker's: workers on other hosts may be skewed.
_SCHEDULE = """
local t = redis.call('TIME')
local now = string.format('%d.%06d', t[1], t[2])
redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], now)
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[2]) then return 1 end
return 0
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
    keys = (DUE_KEY, CHANGED_KEY, PENDING_KEY.format(assessment_id=assessment_id))
    return bool(redis.eval(_SCHEDULE, len(keys), *keys, str(assessment_id), PENDING_TTL_SECONDS))


def overdue(limit: int = 500) -> list[int]:
    """Assessments changed more than OVERDUE_AFTER_SECONDS ago with no recompute finished since,
    and none running now; their due time is pushed forward so the next sweep waits again."""
    redis = get_redis_connection("default")
    now = redis_now(redis)
    members = redis.zrangebyscore(DUE_KEY, "-inf", now - OVERDUE_AFTER_SECONDS, start=0, num=limit)
    ids = [int(member) for member in members]
    if not ids:
        return []
    running = redis.mget([RUNNING_KEY.format(assessment_id=i) for i in ids])
    ids = [i for i, lock in zip(ids, running) if lock is None]
    if ids:
        redis.zadd(DUE_KEY, {str(i): now for i in ids}, xx=True)
    return ids


def backlog(now: float | None = None) -> dict:
    """For operators: recomputes due, those past OVERDUE_AFTER_SECONDS (the relay re-sends them and
    restarts their clock, so one that stays overdue means the relay itself is not running), the
    longest wait, and recomputes running now."""
    redis = get_redis_connection("default")
    now = redis_now(redis) if now is None else now
    with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(DUE_KEY)
        pipe.zcount(DUE_KEY, "-inf", now - OVERDUE_AFTER_SECONDS)
        pipe.zrange(DUE_KEY, 0, 0, withscores=True)
        due, overdue_count, oldest = pipe.execute()
    running = sum(1 for _ in redis.scan_iter(match=RUNNING_KEY.format(assessment_id="*"), count=1000))
    return {"due": due, "overdue": overdue_count, "running": running,
            "longest_wait_seconds": round(max(0.0, now - oldest[0][1]), 3) if oldest else None}


def redis_now(redis) -> float:
    seconds, microseconds = redis.time()
    return seconds + microseconds / 1_000_000


def recompute(assessment_id: int) -> int:
    """Re-projects the assessment's attempts; 0 at once if no change is waiting for one (a
    duplicate task: re-sent by the relay while the original was only queued, or already served)."""
    redis = get_redis_connection("default")
    if redis.zscore(DUE_KEY, str(assessment_id)) is None:
        return 0
    running_key = RUNNING_KEY.format(assessment_id=assessment_id)
    token = uuid.uuid4().hex
    if not redis.set(running_key, token, nx=True, ex=RUNNING_TTL_SECONDS):
        raise RecomputeBusy(assessment_id)
    started = redis_now(redis)
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
