"""The same Idempotency-Key from 20 concurrent clients writes exactly once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import connections

from tests.helpers import ApiClient, row_changes
from write_service.discussions.models import Post

CLIENTS = 20


def test_twenty_concurrent_retries_write_once(tenant, unique):
    barrier = threading.Barrier(CLIENTS)
    body = {"title": f"race {unique}", "body": "exactly once"}

    def client(_):
        try:
            api = ApiClient()
            barrier.wait()
            response = api.post(
                "/api/v1/posts", body, token=tenant.staff_token, **{"Idempotency-Key": f"race-{unique}"}
            )
            return response.status_code, response.json()["id"]
        finally:
            connections.close_all()

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client, range(CLIENTS)))
    assert {status for status, _ in results} == {201}
    assert len({post_id for _, post_id in results}) == 1
    assert Post.objects.filter(title=f"race {unique}").count() == 1
    assert row_changes(Post, results[0][1]).filter(payload__op="insert").count() == 1
