"""Idempotency-Key for every POST: a retried request gets the first response and writes nothing twice.

The key is serialised by a transaction-scoped advisory lock (safe through pgBouncer's transaction
pooling), and the stored response commits in the same transaction as the write itself, so 20
concurrent retries with one key produce exactly one write.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.response import Response

from write_service.platform.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 255


def _error(status: int, message: str) -> Response:
    return Response({"errors": {"Idempotency-Key": [message]}}, status=status)


def idempotent_post(view_method):
    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.META.get(HEADER)
        if key is None:
            return view_method(self, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return _error(400, f"Must be 1 to {MAX_KEY_LENGTH} characters.")
        user_id = request.user.pk or 0
        request_hash = hashlib.sha256(request.body).hexdigest()
        method_path = f"{request.method} {request.path}"
        with transaction.atomic():
            with connection.cursor() as cursor:
                lock_id = int.from_bytes(hashlib.sha256(f"{user_id}:{key}".encode()).digest()[:8], "big", signed=True)
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
            cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
            previous = IdempotencyRecord.objects.filter(user_id=user_id, key=key, created_at__gte=cutoff).first()
            if previous is not None:
                if previous.request_hash != request_hash or previous.method_path != method_path:
                    return _error(422, "This key was already used with a different request.")
                replay = Response(previous.response_body, status=previous.status_code)
                replay["Idempotent-Replayed"] = "true"
                return replay
            response = view_method(self, request, *args, **kwargs)
            if response.status_code < 500:
                IdempotencyRecord.objects.filter(user_id=user_id, key=key).delete()  # an expired one
                IdempotencyRecord.objects.create(
                    key=key,
                    user_id=user_id,
                    method_path=method_path,
                    request_hash=request_hash,
                    status_code=response.status_code,
                    response_body=response.data,
                )
            return response

    return wrapper
