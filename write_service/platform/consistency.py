"""The write side of read-your-writes: a consistency token on every successful write, and the wait
that `Prefer: wait-for=indexed` asks for (shared/consistency.py; docs/CONSISTENCY.md).

The write has committed by the time this runs: nothing here may turn it into an error. If the token
cannot be taken (the primary went away right after the commit), the response goes without one; if
the wait cannot be done (Redis away), the response says `pending`.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.db import DatabaseError
from django_redis import get_redis_connection
from redis.exceptions import RedisError

from shared import consistency
from write_service.read_model import outbox

log = structlog.get_logger(__name__)
PREFERENCE_APPLIED_HEADER = "Preference-Applied"


def consistency_headers(user, prefer: str | None) -> dict[str, str]:
    """The headers a successful write answers with, after waiting if the client preferred it."""
    config = settings.CONFIG
    if not config.consistency_tokens:
        return {}
    try:
        txid_bound, event_bound = outbox.commit_bounds()
    except DatabaseError as exc:
        log.warning("consistency.token_unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
        return {}
    token = consistency.Token(consistency.organisation_key(user.organisation_id), txid_bound, event_bound)
    headers = {consistency.TOKEN_HEADER: consistency.encode_token(token, config.secret_key)}
    preference = consistency.wait_preference(
        prefer, default_seconds=config.consistency_wait_seconds, max_seconds=config.consistency_wait_max_seconds
    )
    if preference is None:
        return headers
    try:
        reflected = consistency.wait_until_reflected(
            get_redis_connection("default"), token, seconds=preference.seconds, namespace=config.pg_db
        )
    except RedisError as exc:
        log.warning("consistency.wait_failed", error=f"{type(exc).__name__}: {exc}"[:300])
        reflected = False
    headers[PREFERENCE_APPLIED_HEADER] = "wait-for=indexed"
    headers[consistency.STATUS_HEADER] = consistency.REFLECTED if reflected else consistency.PENDING
    return headers
