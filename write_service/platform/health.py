"""Liveness and readiness of write_service, and JSON fallbacks for 404/500 outside DRF views.

Liveness: the process answers (no dependency is touched, so a database outage never gets healthy
processes restarted). Readiness: the primary (through pgBouncer) and Redis answer. The replica is
checked too, but it never makes the service unready: when it is down the router sends reads to
the primary, and `reads_from` says so; its lag is reported, flagged `lagging` past 30 s. The
replica check is shared with the metrics endpoint.
May touch: `SELECT`s on both database aliases, a Redis PING.
"""

from __future__ import annotations

from django.db import connections
from django.http import JsonResponse
from django_redis import get_redis_connection

from write_service.platform import db_router

MAX_REPLICA_LAG_SECONDS = 30

# Lag is zero when the standby has replayed everything it received: an idle primary sends no new
# transactions, so "now() - last replay timestamp" alone would grow forever and wrongly report lag.
REPLICA_LAG_SQL = """
SELECT pg_is_in_recovery(),
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
       END::float8
"""


def live(request):
    return JsonResponse({"status": "ok"})


def replica_check() -> dict:
    """{"ok", "lag_seconds", "in_recovery"} of the `replica` alias, or {"ok": False, "error"}."""
    try:
        with connections["replica"].cursor() as cursor:
            cursor.execute(REPLICA_LAG_SQL)
            in_recovery, lag = cursor.fetchone()
    except Exception as exc:  # readiness reports every failure instead of raising
        connections["replica"].close()  # a broken connection must not be reused by the next check
        return {"ok": False, "error": str(exc).strip()[:200]}
    if not in_recovery:
        # The alias points at a primary: "reads from the replica" would then be a lie.
        return {"ok": False, "error": "the replica alias is not a standby (pg_is_in_recovery() is false)"}
    lag = round(float(lag), 3)
    return {"ok": True, "lag_seconds": lag, "lagging": lag > MAX_REPLICA_LAG_SECONDS, "in_recovery": True}


def ready(request):
    checks: dict[str, dict] = {}
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["default"] = {"ok": True}
    except Exception as exc:
        checks["default"] = {"ok": False, "error": str(exc).strip()[:200]}
    checks["replica"] = replica_check()
    try:
        get_redis_connection("default").ping()
        checks["redis"] = {"ok": True}
    except Exception as exc:
        checks["redis"] = {"ok": False, "error": str(exc)[:200]}
    # A missing replica degrades reads to the primary; it does not make us unready. reads_from is
    # the router's own answer (db_router.replica_available), so it agrees with what reads do.
    ready_now = checks["default"]["ok"] and checks["redis"]["ok"]
    reads_from = "replica" if checks["replica"]["ok"] and db_router.replica_available() else "primary"
    body = {"status": "ready" if ready_now else "unready", "reads_from": reads_from, "checks": checks}
    return JsonResponse(body, status=200 if ready_now else 503)


def not_found(request, exception=None):
    return JsonResponse({"errors": {"detail": ["Not found."]}}, status=404)


def server_error(request):
    return JsonResponse({"errors": {"detail": ["Internal server error."]}}, status=500)
