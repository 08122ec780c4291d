"""The read side of read-your-writes: a read that carries a write's consistency token answers once
the indexes reflect that write, or at the bound with what they have (shared/consistency.py).

The token comes as the `Consistency-Token` header or the `consistency_token` query parameter (for
links); the parameter is taken out of the query before the list parses it. No SQL: the wait is a
Redis GET and, if needed, a subscription to the horizon the pipeline publishes.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from redis.exceptions import RedisError

from search_api import auth
from search_api.errors import BadRequest
from shared import consistency
from shared import request_timing as timing

log = structlog.get_logger(__name__)


def _token_text(request) -> tuple[str, str] | None:
    """(where it came from, the token) or None; the query parameter is removed from request.GET."""
    header = request.META.get("HTTP_CONSISTENCY_TOKEN")
    params = request.GET.getlist(consistency.TOKEN_PARAM)
    if params:
        query = request.GET.copy()
        del query[consistency.TOKEN_PARAM]
        request.GET = query
    if len(params) > 1 or (params and header is not None and params[0] != header):
        raise BadRequest({consistency.TOKEN_PARAM: ["Send one consistency token, as the header or the parameter."]})
    if header is not None:
        return consistency.TOKEN_HEADER, header
    if params:
        return consistency.TOKEN_PARAM, params[0]
    return None


def consistency_status(request, principal: auth.Principal) -> str | None:
    """`reflected` or `pending` for a read that carries a token (after waiting up to the bound);
    None for a read without one. A token that is not valid for the caller is a 400."""
    if not settings.CONFIG.consistency_tokens:
        return None
    found = _token_text(request)
    if found is None:
        return None
    field, text = found
    config = settings.CONFIG
    try:
        token = consistency.decode_token(
            text, config.secret_key, organisation_id=consistency.organisation_key(principal.organisation_id)
        )
    except consistency.InvalidToken as exc:
        raise BadRequest({field: [str(exc)]}) from None
    try:
        with timing.timed("consistency_wait"):
            reflected = consistency.wait_until_reflected(
                auth.cache_redis(), token, seconds=config.consistency_wait_seconds, namespace=config.pg_db
            )
    except RedisError as exc:  # the read itself can still be answered: say it may not reflect the write
        log.warning("consistency.wait_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        reflected = False
    return consistency.REFLECTED if reflected else consistency.PENDING
