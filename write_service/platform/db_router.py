"""Primary/replica routing.

Writes and anything inside a transaction go to `default` (the primary via pgBouncer). Selectors
that tolerate staleness ask `read_alias()`, which answers `replica` unless the current client just
wrote (read-your-writes pin, set by `ApiView` in write_service/platform/views.py: DRF
authenticates inside the view, so it is not a middleware) or the replica is unreachable, in which
case reads fall back to the primary for a while (and readiness reports it).
"""

from __future__ import annotations

import contextvars
import time

import structlog
from django.db import connections
from django.db.utils import OperationalError

log = structlog.get_logger(__name__)
_pinned_to_primary: contextvars.ContextVar[bool] = contextvars.ContextVar("pinned_to_primary", default=False)
_replica_down_until = 0.0
REPLICA_RETRY_SECONDS = 10


def pin_to_primary(pinned: bool = True) -> contextvars.Token:
    return _pinned_to_primary.set(pinned)


def unpin(token: contextvars.Token) -> None:
    _pinned_to_primary.reset(token)


def replica_available() -> bool:
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    try:
        connections["replica"].ensure_connection()
        return True
    except OperationalError as exc:
        _replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
        log.warning("db.replica_unavailable", error=str(exc).strip(), retry_in_seconds=REPLICA_RETRY_SECONDS)
        return False


def read_alias() -> str:
    if _pinned_to_primary.get() or connections["default"].in_atomic_block:
        return "default"
    return "replica" if replica_available() else "default"


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        return "default"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
