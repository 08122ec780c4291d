"""Helpers for tests: tenants with tokens, a JSON API client, waiting, exact query counts."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests import summary
from write_service.accounts.models import Organisation, Role, User
from write_service.accounts.services import organisation_create, token_issue, user_create

PASSWORD = "correct-horse-battery"


@dataclass
class Tenant:
    organisation: Organisation
    staff: User
    staff_token: str
    candidates: list[User]
    candidate_tokens: list[str]

    def add_candidate(self, display_name: str | None = None) -> tuple[User, str]:
        name = f"cand-{uuid.uuid4().hex[:10]}"
        user = user_create(
            actor=self.staff, username=name, password=PASSWORD, role=Role.CANDIDATE, display_name=display_name or name
        )
        token = token_issue(username=name, password=PASSWORD)
        self.candidates.append(user)
        self.candidate_tokens.append(token)
        return user, token


def make_tenant(candidates: int = 2) -> Tenant:
    suffix = uuid.uuid4().hex[:10]
    organisation, staff = organisation_create(
        name=f"org-{suffix}", admin_username=f"staff-{suffix}", admin_password=PASSWORD
    )
    tenant = Tenant(organisation, staff, token_issue(username=staff.username, password=PASSWORD), [], [])
    for _ in range(candidates):
        tenant.add_candidate()
    return tenant


class ApiClient:
    """Django's test client speaking JSON with token auth (in-process, real database)."""

    def __init__(self):
        self.client = Client()

    def request(self, method: str, path: str, body=None, token: str | None = None, **headers):
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        if token:
            extra["HTTP_AUTHORIZATION"] = f"Token {token}"
        call = getattr(self.client, method.lower())
        if body is None and method.upper() in {"GET", "DELETE"}:
            response = call(path, **extra)
        else:
            response = call(path, data=body if body is not None else {}, content_type="application/json", **extra)
        summary.record("write API (in-process)", response.status_code)
        return response

    def post(self, path, body=None, token=None, **headers):
        return self.request("POST", path, body, token, **headers)

    def patch(self, path, body=None, token=None, **headers):
        return self.request("PATCH", path, body, token, **headers)

    def get(self, path, token=None, **headers):
        return self.request("GET", path, None, token, **headers)

    def delete(self, path, token=None, **headers):
        return self.request("DELETE", path, None, token, **headers)


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.1, message: str = ""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}: last={last!r}")


@contextmanager
def assert_num_queries(expected: int, aliases=("default", "replica")):
    """Exact SQL count over every alias; on mismatch, prints every query that ran."""
    contexts = {alias: CaptureQueriesContext(connections[alias]) for alias in aliases}
    for ctx in contexts.values():
        ctx.__enter__()
    try:
        yield contexts
    finally:
        for ctx in contexts.values():
            ctx.__exit__(None, None, None)
    queries = [(alias, q["sql"]) for alias, ctx in contexts.items() for q in ctx.captured_queries]
    if len(queries) != expected:
        listing = "\n".join(f"  {i}. [{alias}] {sql}" for i, (alias, sql) in enumerate(queries, 1))
        raise AssertionError(f"expected {expected} queries, ran {len(queries)}:\n{listing}")


def row_changes(model, row_id: int):
    """The outbox rows the capture triggers recorded for one row of `model`."""
    from shared.events import ROW_CHANGE_TYPES
    from write_service.outbox.models import OutboxEvent

    return OutboxEvent.objects.filter(
        event_type__in=ROW_CHANGE_TYPES, payload__table=model._meta.db_table, payload__id=row_id
    )


def ok_json(response, expected: int = 201):
    """The JSON of a response that must have `expected` status (setting up a test's world)."""
    assert response.status_code == expected, response.content[:500]
    return response.json()
