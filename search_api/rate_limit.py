"""Per-credential rate limit in Redis: a fixed window counter, counted atomically.

The key names the window (`ratelimit:search:<credential>:<window number>`), so a counter never
outlives its window by more than its TTL and needs no cleanup. SET NX EX and INCR run in one
MULTI: a counter can never exist without its expiry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from search_api.auth import cache_redis
from search_api.errors import RateLimited
from shared import request_timing as timing

KEY = "ratelimit:search:{credential}:{window}"


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }


@dataclass(frozen=True)
class Window:
    key: str
    limit: int
    seconds: int
    reset_seconds: int


def current_window(credential: str) -> Window:
    limit, seconds = settings.SEARCH_RATE_LIMIT, settings.SEARCH_RATE_WINDOW_SECONDS
    now = time.time()
    number = int(now // seconds)
    return Window(
        key=KEY.format(credential=credential, window=number),
        limit=limit,
        seconds=seconds,
        reset_seconds=max(1, int((number + 1) * seconds - now + 0.999)),
    )


def queue_count(pipe, window: Window) -> None:
    """Adds the two counting commands to `pipe` (a MULTI pipeline); the last result is the count."""
    pipe.set(window.key, 0, ex=window.seconds, nx=True)
    pipe.incr(window.key)


def check(window: Window, count: int) -> RateLimitState:
    """Raises RateLimited (429) once the window's budget is spent."""
    state = RateLimitState(
        limit=window.limit, remaining=max(0, window.limit - count), reset_seconds=window.reset_seconds
    )
    if count > window.limit:
        raise RateLimited(retry_after=window.reset_seconds, headers=state.headers())
    return state


def hit(credential: str) -> RateLimitState:
    """Counts one request in its own round trip (callers that already talk to Redis use queue_count)."""
    window = current_window(credential)
    with timing.timed("redis"):
        pipe = cache_redis().pipeline(transaction=True)
        queue_count(pipe, window)
        _, count = pipe.execute()
    return check(window, count)
