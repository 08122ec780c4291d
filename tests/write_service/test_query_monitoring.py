"""Server-Timing on every response, and structured slow-query logs above the threshold."""

from __future__ import annotations

import json
import logging

from django.test import override_settings


def test_server_timing_reports_db_cache_and_total(api, tenant):
    response = api.post("/api/v1/posts", {"title": "timed", "body": "b"}, token=tenant.staff_token)
    parts = {p.split(";")[0].strip(): p for p in response["Server-Timing"].split(",")}
    assert {"db", "cache", "total"} <= set(parts)
    # INSERT post (its trigger records the change), then the consistency token's bounds
    # (BEGIN/COMMIT are not statements here)
    assert 'desc="2 calls"' in parts["db"]


def test_slow_queries_are_logged_structured(api, tenant, caplog):
    with override_settings(SLOW_QUERY_MS=0), caplog.at_level(logging.WARNING, logger="write_service.sql"):
        api.post("/api/v1/posts", {"title": "slow", "body": "b"}, token=tenant.staff_token)
    records = [r for r in caplog.records if r.name == "write_service.sql"]
    assert records, "no slow-query record"
    event = records[0].msg if isinstance(records[0].msg, dict) else json.loads(records[0].getMessage())
    assert event["event"] == "sql.slow" and "INSERT" in event["sql"] and event["ms"] >= 0
