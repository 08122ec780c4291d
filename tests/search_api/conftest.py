"""Fixtures for search_api: a real server process (Granian, stack/apps.sh, this namespace's ports) and an
HTTP client for it. The search API is only ever tested over HTTP: it is a separate service with
its own settings (no database), which the test process (write_service settings) cannot host.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import pytest
import requests

from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from tests import summary
from tests.conftest import ROOT
from tests.helpers import PASSWORD
from write_service.accounts.models import User
from write_service.accounts.services import token_issue

# Per token and minute. High enough for the brute-force walks (each test uses fresh tokens), low
# enough that test_rate_limit exhausts it in a couple of seconds.
TEST_RATE_LIMIT = os.environ.get("TEST_SEARCH_RATE_LIMIT", "1000")


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
        response = self.session.get(url, params=params, headers=headers, timeout=30, **kwargs)
        summary.record("search API", response.status_code)
        return response

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
    env = {**os.environ, "SEARCH_RATE_LIMIT": TEST_RATE_LIMIT, "SEARCH_RATE_WINDOW_SECONDS": "60"}
    for action in ("restart", "start"):
        subprocess.run([str(ROOT / "stack" / "apps.sh"), action, "search"], check=True, cwd=ROOT, env=env)
    yield f"http://127.0.0.1:{os.environ.get('TEST_SEARCH_PORT', '8101')}"
    subprocess.run([str(ROOT / "stack" / "apps.sh"), "stop", "search"], check=True, cwd=ROOT, env=env)


@pytest.fixture(scope="session")
def search(search_server) -> SearchClient:
    return SearchClient(search_server)


def es_source(index: str, doc_id: int) -> dict | None:
    """A document straight from Elasticsearch (to wait for the pipeline), or None."""
    response = get_es_client().options(ignore_status=404).get(index=ALL_INDEXES[index].alias, id=str(doc_id))
    return response.body.get("_source") if response.body.get("found") else None


def unique_word() -> str:
    """Letters only (no digit splits it) and unique: no other test's rows match it, even with typos."""
    return "zq" + "".join("abcdefghijklmnop"[int(ch, 16)] for ch in uuid.uuid4().hex[:12])


def refresh_indexes() -> None:
    """Bulk-projected fixtures are searchable at once, instead of within refresh_interval."""
    get_es_client().indices.refresh(index=",".join(d.alias for d in ALL_INDEXES.values()))


def fresh_token(user: User) -> str:
    """A token of its own per test: rate limits count per token."""
    return token_issue(username=user.username, password=PASSWORD)


class RotatingToken:
    """For fuzzers that send thousands of requests: a new token well before the rate limit."""

    def __init__(self, user: User, uses: int = int(TEST_RATE_LIMIT) // 2):
        self.user, self.uses, self.count, self.token = user, uses, 0, fresh_token(user)

    def header(self) -> dict[str, str]:
        self.count += 1
        if self.count % self.uses == 0:
            self.token = fresh_token(self.user)
        return {"Authorization": f"Token {self.token}"}


@pytest.fixture(scope="session")
def dataset(search, pipeline):
    """The random data set of brute-force and schema tests (see datasets.py), built once, with the
    workers running: its rows are captured like any write, and it is read once they are done."""
    from tests.search_api.datasets import SEED, build_dataset

    return build_dataset(SEED)
