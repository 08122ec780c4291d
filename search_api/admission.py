"""Who is calling, and may they now: authentication plus the rate limit, in as few Redis trips as possible.

A token's rate-limit credential is known from the raw token, so its lookup and the window's count
travel in one MULTI (then one GET for the user): two round trips instead of three on every search.
A request with an unknown token is counted too (its key expires with its window); it still gets
the 401 first. Sessions need the session's user before their credential is known, so they count
in a trip of their own.
"""
from __future__ import annotations

from shared import request_timing as timing
from shared.auth_cache import token_key
from search_api import auth, rate_limit


def admit(request) -> tuple[auth.Principal, rate_limit.RateLimitState]:
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        principal = auth.authenticate(request)
        return principal, rate_limit.hit(principal.credential)
    raw_token = auth.token_from_header(header)
    credential = auth.token_credential(raw_token)
    window = rate_limit.current_window(credential)
    with timing.timed("redis"):
        pipe = auth.cache_redis().pipeline(transaction=True)
        pipe.get(token_key(raw_token))
        rate_limit.queue_count(pipe, window)
        cached_token, _, count = pipe.execute()
    principal = auth.principal_for_token(cached_token, credential)  # 401 before 429
    return principal, rate_limit.check(window, count)
