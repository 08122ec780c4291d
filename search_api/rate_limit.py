"""Per-credential rate limit in Redis: a fixed window counter, one atomic round trip per request.

The key names the window (`ratelimit:search:<credential>:<window number>`), so a counter never
outlives its window by more than its TTL and needs no cleanup. SET NX EX and INCR run in one
MULTI: a counter can never exist without its expiry.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from shared import request_timing as timing
from search_api.auth import Principal, cache_redis
from search_api.errors import RateLimited

KEY = "ratelimit:search:{credential}:{window}"


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        return {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                "RateLimit-Reset": str(self.reset_seconds)}


def hit(principal: Principal) -> RateLimitState:
    """Counts one request; raises RateLimited (429) once the window's budget is spent."""
    limit, window = settings.SEARCH_RATE_LIMIT, settings.SEARCH_RATE_WINDOW_SECONDS
    now = time.time()
    number = int(now // window)
    key = KEY.format(credential=principal.credential, window=number)
    with timing.timed("redis"):
        pipe = cache_redis().pipeline(transaction=True)
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        _, count = pipe.execute()
    reset = max(1, int((number + 1) * window - now + 0.999))
    state = RateLimitState(limit=limit, remaining=max(0, limit - count), reset_seconds=reset)
    if count > limit:
        raise RateLimited(retry_after=reset, headers=state.headers())
    return state
