"""Response contract: shape, rows exactly as declared (no private fields), facets, headers
(Server-Timing, request id, rate limit), health endpoints, and the count bound."""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path

from read_indexer.projection.documents import project_and_index
from search_api.lists import ALL_LISTS
from search_api.query_builder import COUNT_BOUND
from tests.helpers import make_tenant, wait_until
from tests.search_api.conftest import fresh_token, refresh_indexes
from write_service.discussions.models import Post

PRIVATE = ("email", "password", "body", "cut_off", "session_auth_hash", "username", "deleted", "assessment_status")
# A comment's body is what its list is for (post bodies stay out of the posts list's rows).
TEXT_SHOWN = {"comments": {"body"}}


def _paths(dataset) -> dict[str, str]:
    return {
        "assessments": "/search/v1/assessments",
        "attempts": "/search/v1/attempts",
        "posts": "/search/v1/posts",
        "leaderboard": f"/search/v1/assessments/{dataset.leaderboards[0]}/leaderboard",
        "comments": f"/search/v1/posts/{dataset.commented_post}/comments",
    }


def test_rows_are_exactly_the_declared_fields(search, dataset):
    token = fresh_token(dataset.tenant.staff)
    for schema in ALL_LISTS:
        page = search.ok(_paths(dataset)[schema.name], token, {"page_size": "100"})
        assert set(page) == {"results", "count", "count_is_lower_bound", "next", "facets"}
        assert page["results"], schema.name
        for row in page["results"]:
            assert list(row) == list(schema.row), schema.name
            assert not set(row) & set(PRIVATE) - TEXT_SHOWN.get(schema.name, set()), schema.name


def test_headers_carry_timing_request_id_and_budget(search, dataset):
    token = fresh_token(dataset.tenant.staff)
    response = search.get("/search/v1/posts", token, headers={"X-Request-ID": "trace-123"})
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-ID"] == "trace-123"
    timing = response.headers["Server-Timing"]
    assert re.search(r'(^|, )es;dur=\d+\.\d;desc="1 calls"', timing), timing
    assert re.search(r"redis;dur=\d+\.\d", timing) and re.search(r"total;dur=\d+\.\d$", timing), timing
    assert int(response.headers["RateLimit-Remaining"]) == int(response.headers["RateLimit-Limit"]) - 1


def _search_log_lines(request_id: str) -> list[dict]:
    logs = Path(os.environ.get("STACK_LOGS", f"{os.environ.get('STACK_HOME', '/var/lib/cqrs-stack')}/logs"))
    path = logs / os.environ.get("STACK_NAMESPACE", "test") / "search.log"
    return [
        line
        for line in map(
            json.loads,
            (raw for raw in path.read_text(errors="replace").splitlines() if raw.startswith("{") and request_id in raw),
        )
        if line.get("request_id") == request_id
    ]


def test_one_access_line_per_request_with_the_lists_figures(search, dataset):
    token = fresh_token(dataset.tenant.staff)
    request_id = f"log-{uuid.uuid4().hex}"
    response = search.get("/search/v1/posts", token, {"page_size": "2"}, headers={"X-Request-ID": request_id})
    assert response.status_code == 200, response.text
    page = response.json()
    (line,) = wait_until(lambda: _search_log_lines(request_id), timeout=10)
    assert line["event"] == "http.access" and line["status"] == 200 and line["path"] == "/search/v1/posts"
    assert (line["list"], line["count"], line["returned"]) == ("posts", page["count"], len(page["results"]))
    assert isinstance(line["took_ms"], int) and line["duration_ms"] > 0
    other = f"log-{uuid.uuid4().hex}"  # a request that searches nothing carries none of it
    assert search.get("/search/health/live", headers={"X-Request-ID": other}).status_code == 200
    (health,) = wait_until(lambda: _search_log_lines(other), timeout=10)
    assert "list" not in health and "took_ms" not in health


def test_facets_count_the_filtered_rows(search, dataset):
    token = fresh_token(dataset.tenant.staff)
    page = search.ok(f"/search/v1/assessments/{dataset.leaderboards[0]}/leaderboard", token, {"facets": "qualified"})
    buckets = {b["value"]: b["count"] for b in page["facets"]["qualified"]}
    assert set(buckets) <= {True, False} and sum(buckets.values()) == page["count"]
    page = search.ok("/search/v1/attempts", token, {"facets": "status,assessment", "status": "started"})
    assert [b["value"] for b in page["facets"]["status"]] == ["started"]
    assert sum(b["count"] for b in page["facets"]["assessment"]) == page["count"]


def test_health(search):
    assert search.get("/search/health/live").json() == {"status": "ok"}
    ready = search.get("/search/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["redis"]["ok"] and ready.json()["checks"]["elasticsearch"]["ok"]


def test_count_is_exact_up_to_the_bound_then_a_flagged_lower_bound(search):
    tenant = make_tenant(candidates=0)
    posts = Post.objects.bulk_create(
        [
            Post(organisation=tenant.organisation, author=tenant.staff, title=f"Bulk {i}", body="", tags=[])
            for i in range(COUNT_BOUND + 5)
        ]
    )
    project_and_index("posts", [p.pk for p in posts])
    refresh_indexes()
    token = fresh_token(tenant.staff)
    page = search.ok("/search/v1/posts", token, {"page_size": "1"})
    assert (page["count"], page["count_is_lower_bound"]) == (COUNT_BOUND, True)
    narrowed = search.ok(
        "/search/v1/posts", token, {"page_size": "1", "id__in": ",".join(str(p.pk) for p in posts[:100])}
    )
    assert (narrowed["count"], narrowed["count_is_lower_bound"]) == (100, False)
