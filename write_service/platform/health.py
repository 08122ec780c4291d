"""Liveness and readiness of write_service, and JSON fallbacks for 404/500 outside DRF views."""
from __future__ import annotations

from django.db import connections
from django.http import JsonResponse
from django_redis import get_redis_connection

MAX_REPLICA_LAG_SECONDS = 30


def live(request):
    return JsonResponse({"status": "ok"})


def ready(request):
    checks: dict[str, dict] = {}
    for alias in ("default", "replica"):
        try:
            with connections[alias].cursor() as cursor:
                if alias == "replica":
                    cursor.execute("SELECT COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)")
                    lag = float(cursor.fetchone()[0])
                    checks[alias] = {"ok": True, "lag_seconds": round(lag, 3)}
                else:
                    cursor.execute("SELECT 1")
                    checks[alias] = {"ok": True}
        except Exception as exc:  # readiness reports every failure instead of raising
            checks[alias] = {"ok": False, "error": str(exc).strip()[:200]}
    try:
        get_redis_connection("default").ping()
        checks["redis"] = {"ok": True}
    except Exception as exc:
        checks["redis"] = {"ok": False, "error": str(exc)[:200]}
    # A missing or lagging replica degrades reads to the primary; it does not make us unready.
    ready_now = checks["default"]["ok"] and checks["redis"]["ok"]
    replica = checks["replica"]
    degraded = not replica["ok"] or replica.get("lag_seconds", 0) > MAX_REPLICA_LAG_SECONDS
    body = {"status": "ready" if ready_now else "unready", "reads_from": "primary" if degraded else "replica", "checks": checks}
    return JsonResponse(body, status=200 if ready_now else 503)


def not_found(request, exception=None):
    return JsonResponse({"errors": {"detail": ["Not found."]}}, status=404)


def server_error(request):
    return JsonResponse({"errors": {"detail": ["Internal server error."]}}, status=500)
