"""Rate limit per token in Redis: exactly `limit` requests per window pass, the rest get 429 with
Retry-After, even when they arrive concurrently; other tokens are unaffected."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.helpers import make_tenant
from tests.search_api.conftest import fresh_token

# Rejected after the rate limit is counted (parameters are parsed after it): cheap requests.
CHEAP = "/search/v1/posts?unknown=1"


def test_burst_beyond_the_limit_is_429_exactly_past_the_budget(search):
    tenant = make_tenant(candidates=0)
    token, bystander = fresh_token(tenant.staff), fresh_token(tenant.staff)
    first = search.get(CHEAP, token)
    limit, reset = int(first.headers["RateLimit-Limit"]), int(first.headers["RateLimit-Reset"])
    assert first.status_code == 400 and int(first.headers["RateLimit-Remaining"]) == limit - 1
    if reset < 8:  # the burst (~3 s) must fit in one fixed window: start it in the next one
        time.sleep(reset + 0.5)
        first = search.get(CHEAP, token)
    extra = 25

    def call(_):
        with requests.Session() as session:  # one per thread: requests sessions are not thread-safe
            response = session.get(f"{search.base_url}{CHEAP}", headers={"Authorization": f"Token {token}"}, timeout=30)
            return response.status_code, response

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(call, range(limit - 1 + extra)))
    statuses = Counter(status for status, _ in results)
    assert statuses == {400: limit - 1, 429: extra}, statuses
    refused = next(response for status, response in results if status == 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"
    assert refused.json() == {"errors": {"detail": ["Too many requests for this token; retry later."]}}
    assert search.get(CHEAP, bystander).status_code == 400  # another token has its own budget
