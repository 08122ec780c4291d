"""schemathesis against the OpenAPI document at /search/v1/schema: whatever it generates, valid
or not, the API never answers 5xx, documents every status it returns, and every 200 matches the
documented row shapes. Invalid input (per the schema) must be rejected with a 4xx."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from search_api import openapi
from tests import summary
from tests.search_api.conftest import RotatingToken


@pytest.fixture(scope="module")
def token(dataset):
    return RotatingToken(dataset.tenant.staff)


# Built in-process at collection time (schemathesis' lazy fixture loader does not support this
# pytest); test_served_document_is_the_tested_one proves the server serves exactly this document.
# Request lines over 4094 bytes get 414 before any parsing (search_api/middleware.py): a rejection too.
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [400, 401, 404, 405, 414]}}}
)
schema = schemathesis.openapi.from_dict(openapi.document(), config=CONFIG)


def test_served_document_is_the_tested_one(search):
    assert search.get("/search/v1/schema").json() == openapi.document()


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SEARCH_SCHEMATHESIS_EXAMPLES", "25")),
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, search_server, token, dataset):
    if case.path_parameters and case.path_parameters.get("id") == 1:  # also reach a nested list with rows
        case.path_parameters["id"] = (
            dataset.commented_post if case.path.endswith("/comments") else dataset.leaderboards[0]
        )
    # Schema-valid input can still be refused (a cursor from nowhere, ordering=relevance without q,
    # created_at,-created_at): the API is stricter than JSON Schema can say, never looser.
    response = case.call_and_validate(
        base_url=search_server, headers=token.header(), excluded_checks=[positive_data_acceptance]
    )
    summary.record("search API (schemathesis)", response.status_code)
