"""The base class of every write-API view: read-your-writes pinning, consistency tokens, JSON-only I/O."""

from __future__ import annotations

import structlog
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.views import APIView

from write_service.platform.consistency import consistency_headers
from write_service.platform.db_router import pin_to_primary, unpin

log = structlog.get_logger(__name__)
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _ryw_key(user_id: int) -> str:
    return f"ryw:{user_id}"


class ApiView(APIView):
    """After a successful write, the same user reads from the primary for a few seconds, and the
    response carries its consistency token (write_service/platform/consistency.py).

    The flag is in Redis (token clients keep no cookies), so every process and host agrees.
    DRF authenticates inside the view, which is why this is not a middleware.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        user_id = getattr(request.user, "pk", None)
        if user_id and cache.get(_ryw_key(user_id)):
            self._pin_token = pin_to_primary(True)

    def finalize_response(self, request, response, *args, **kwargs):
        token = getattr(self, "_pin_token", None)
        if token is not None:
            unpin(token)
            self._pin_token = None
        if request.method not in WRITE_METHODS or response.status_code >= 400:
            return super().finalize_response(request, response, *args, **kwargs)
        # Only a successful write reads request.user here: on a failed request, reading it would
        # run authentication again (and raise again, outside DRF's error handling, if Redis is down).
        user_id = getattr(request.user, "pk", None)
        if user_id:
            try:
                cache.set(_ryw_key(user_id), 1, timeout=settings.READ_YOUR_WRITES_SECONDS)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                # The write has committed: failing its response now would make the client retry it.
                # Without the pin, the client's next reads may come from the (slightly behind) replica.
                log.warning("ryw.pin_failed", user_id=user_id, error=str(exc)[:200])
            for name, value in consistency_headers(request.user, request.headers.get("Prefer")).items():
                response[name] = value
        return super().finalize_response(request, response, *args, **kwargs)
