"""Liveness (the process answers) and readiness (Redis and every search alias reachable)."""

from __future__ import annotations

from django.conf import settings
from django_redis import get_redis_connection

from search_api.responses import json_response
from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES


def live(request):
    return json_response({"status": "ok"})


def ready(request):
    checks: dict[str, dict] = {}
    try:
        get_redis_connection("default").ping()
        checks["redis"] = {"ok": True}
    except Exception as exc:  # readiness reports every failure instead of raising
        checks["redis"] = {"ok": False, "error": str(exc)[:200]}
    try:
        es = get_es_client().options(request_timeout=min(settings.SEARCH_ES_TIMEOUT_SECONDS, 5), max_retries=0)
        aliases = [d.alias for d in ALL_INDEXES.values()]
        missing = [alias for alias in aliases if not es.indices.exists_alias(name=alias)]
        checks["elasticsearch"] = {"ok": not missing, **({"missing_aliases": missing} if missing else {})}
    except Exception as exc:
        checks["elasticsearch"] = {"ok": False, "error": str(exc)[:200]}
    ready_now = all(check["ok"] for check in checks.values())
    return json_response(
        {"status": "ready" if ready_now else "unready", "checks": checks}, status=200 if ready_now else 503
    )
