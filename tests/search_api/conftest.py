"""Fixtures for search_api: a real Gunicorn process (stack/apps.sh, this namespace's ports) and an
HTTP client for it. The search API is only ever tested over HTTP: it is a separate service with
its own settings (no database), which the test process (write_service settings) cannot host.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from tests.conftest import apps


class SearchClient:
    """requests against the running search API; `walk` follows `next` links to the end."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def get(self, path: str, token: str | None = None, params: dict | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Token {token}"
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        return self.session.get(url, params=params, headers=headers, timeout=30, **kwargs)

    def ok(self, path: str, token: str, params: dict | None = None) -> dict:
        response = self.get(path, token, params)
        assert response.status_code == 200, (response.status_code, response.text[:2000])
        return response.json()

    def walk(self, path: str, token: str, params: dict | None = None, max_pages: int = 500) -> Iterator[dict]:
        """Yields every page, following `next`, failing on a non-200 or a runaway walk."""
        page = self.ok(path, token, params)
        yield page
        for _ in range(max_pages):
            if page["next"] is None:
                return
            page = self.ok(page["next"], token)
            yield page
        raise AssertionError(f"more than {max_pages} pages: the cursor does not advance")

    def all_rows(self, path: str, token: str, params: dict | None = None) -> list[dict]:
        return [row for page in self.walk(path, token, params) for row in page["results"]]


@pytest.fixture(scope="session")
def search_server(django_db_setup) -> Iterator[str]:
    """Restarted so it runs the current code; stopped at the end of the session."""
    apps("restart", "search")
    apps("start", "search")
    yield f"http://127.0.0.1:{os.environ.get('TEST_SEARCH_PORT', '8101')}"
    apps("stop", "search")


@pytest.fixture(scope="session")
def search(search_server) -> SearchClient:
    return SearchClient(search_server)


def refresh_indexes() -> None:
    """Bulk-projected fixtures are searchable at once, instead of within refresh_interval."""
    get_es_client().indices.refresh(index=",".join(d.alias for d in ALL_INDEXES.values()))
