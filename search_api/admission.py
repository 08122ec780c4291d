"""Who is calling, and may they now: authentication plus the rate limit, in as few Redis trips as possible.

A token's rate-limit credential is known from the raw token, so one Lua script (atomic, like the
MULTI it replaces) reads the token entry, counts the window (SET NX EX, then INCR: a counter never
exists without its expiry) and reads the token's user entry: one round trip on every search instead
of two (issue 16: a MULTI then a GET; three before that). A request with an unknown token is
counted too (its key expires with its window); it still gets the 401 first. The script reads the
user key, which it derives from the token entry, without declaring it in KEYS: fine on the
standalone Redis this stack runs, not on Redis Cluster. Sessions need the session's user before
their credential is known, so they count in a trip of their own.
"""

from __future__ import annotations

import functools

from search_api import auth, rate_limit
from shared import request_timing as timing
from shared.auth_cache import USER_KEY, token_key

# KEYS[1] token entry, KEYS[2] the window's counter; ARGV[1] window seconds, ARGV[2] the user key
# prefix. Returns {token entry or false, count, user entry or false}; the caller checks expiry and
# activity (401 before 429). A token entry that is not a JSON object with a user_id reads no user.
_ADMIT_LUA = """
local token = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[2], 0, 'EX', ARGV[1], 'NX')
local count = redis.call('INCR', KEYS[2])
local user = false
if token then
  local ok, entry = pcall(cjson.decode, token)
  if ok and type(entry) == 'table' and type(entry['user_id']) == 'number' then
    user = redis.call('GET', ARGV[2] .. string.format('%d', entry['user_id']))
  end
end
return {token, count, user}
"""
_USER_KEY_PREFIX = USER_KEY.split("{", 1)[0]
assert USER_KEY == _USER_KEY_PREFIX + "{user_id}", "the script builds user keys as prefix + id"


@functools.cache
def _admit_script(redis):
    """The registered script (EVALSHA, reloaded by redis-py on NOSCRIPT), per connection object."""
    return redis.register_script(_ADMIT_LUA)


def admit(request) -> tuple[auth.Principal, rate_limit.RateLimitState]:
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        principal = auth.authenticate(request)
        return principal, rate_limit.hit(principal.credential)
    raw_token = auth.token_from_header(header)
    credential = auth.token_credential(raw_token)
    window = rate_limit.current_window(credential)
    with timing.timed("redis"):
        redis = auth.cache_redis()
        cached_token, count, cached_user = _admit_script(redis)(
            keys=[token_key(raw_token), window.key], args=[window.seconds, _USER_KEY_PREFIX]
        )
    principal = auth.principal_for_token(cached_token, credential, cached_user=cached_user)  # 401 before 429
    return principal, rate_limit.check(window, count)
