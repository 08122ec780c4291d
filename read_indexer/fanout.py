"""Coalesced leaderboard recompute: at most one running and one pending per assessment.

A submission moves every taker's rank and percentile; a cut-off or status change moves every
attempt's `qualified` / visibility. Recomputing per event would be O(events x takers), so
changes only set a pending flag; one task re-projects the whole assessment from a single window
query, and changes that land while it runs schedule exactly one more run.
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
RUNNING_TTL_SECONDS = 150  # > task hard time limit: a killed worker's lock expires by itself


class RecomputeBusy(Exception):
    """Another recompute of the same assessment is running; the caller retries shortly."""


def should_schedule(assessment_id: int) -> bool:
    """True if the caller must enqueue a recompute (no other one is pending)."""
    key = PENDING_KEY.format(assessment_id=assessment_id)
    return bool(get_redis_connection("default").set(key, "1", nx=True, ex=PENDING_TTL_SECONDS))


def recompute(assessment_id: int) -> int:
    redis = get_redis_connection("default")
    running_key = RUNNING_KEY.format(assessment_id=assessment_id)
    token = uuid.uuid4().hex
    if not redis.set(running_key, token, nx=True, ex=RUNNING_TTL_SECONDS):
        raise RecomputeBusy(assessment_id)
    try:
        # Cleared before reading: a change committed from now on schedules one more run.
        redis.delete(PENDING_KEY.format(assessment_id=assessment_id))
        return write_documents("attempts", project_assessment_attempts(assessment_id))
    finally:
        if redis.get(running_key) == token.encode():
            redis.delete(running_key)
