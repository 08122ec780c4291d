"""Long stateful fuzzing of the write API: a hypothesis state machine creates
assessments, attempts, posts, comments and users, then edits, submits, deletes and reads what it
created, every body near-valid with fields dropped or replaced by fuzzed or hostile JSON (NaN,
1e999999, 64-bit overflow, NUL, lone surrogates, deep nesting, garbage), sometimes under a reused
Idempotency-Key. No response may be a 5xx; every 4xx names what was wrong.

Opt-in (CI keeps test_fuzz_write_endpoints.py's smaller run): FUZZ_CASES=10000 bin/test -m slow
tests/write_service/test_fuzz_stateful.py (FUZZ_CASES = requests sent, 50 per generated run).
"""

from __future__ import annotations

import json
import os
from collections import Counter

import pytest
from django.test import Client
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, rule, run_state_machine_as_test

from tests import summary
from tests.helpers import make_tenant

CASES = int(os.environ.get("FUZZ_CASES", "0"))
STEPS = 50
MISSING_ID = 2**62
pytestmark = [pytest.mark.slow, pytest.mark.long_fuzz, pytest.mark.timeout(3600)]

HOSTILE = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e999999",
    "-1e999999",
    str(2**63),
    str(-(2**64)),
    "9" * 5000,
    '"\\u0000"',
    '"a\\u0000b"',
    '"\\ud800"',
    '"x\\udfffy"',
    '"\\ud83d\\ude00"',
    "[" * 65 + "]" * 65,
    "[" * 1000 + "]" * 1000,
    '{"a": ' * 70 + "1" + "}" * 70,
    "0.1e-999999",
    "1E+400",
    "-0",
    "1.5",
    "2e3",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "published",
            "draft",
            "easy",
            "hard",
            "candidate",
            "staff",
            "99.999",
            "-1",
            "100",
            "0",
            "sql",
            "a" * 301,
            "' OR 1=1 --",
            "<script>",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
value_text = st.one_of(values.map(json.dumps), st.sampled_from(HOSTILE))
garbage = st.one_of(
    st.sampled_from(HOSTILE),
    st.binary(max_size=40),
    st.sampled_from(["", "{", '{"a":}', "null", "[]", '"just a string"', "{}", '{"title": "x",}']),
)
FIELDS = [
    "title",
    "description",
    "tags",
    "difficulty",
    "status",
    "cut_off",
    "max_score",
    "duration_minutes",
    "score",
    "body",
    "assessment",
    "username",
    "password",
    "role",
    "display_name",
    "email",
]


@st.composite
def near_valid(draw, valid: dict) -> str | bytes:
    """Each valid field kept (mostly), dropped or fuzzed; maybe an extra field; now and then garbage."""
    if draw(st.integers(0, 24)) == 24:  # not 0: hypothesis starts from the simplest draw
        return draw(garbage)
    parts = {}
    for key, value in valid.items():  # 1 in 12 dropped, 1 in 12 fuzzed: a fair share of bodies is valid
        action = draw(st.integers(0, 11))
        if action < 11:
            parts[key] = draw(value_text) if action == 10 else json.dumps(value)
    if draw(st.integers(0, 7)) == 7:
        parts[draw(st.sampled_from(FIELDS) | st.text(max_size=6))] = draw(value_text)
    return "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in parts.items()) + "}"


ASSESSMENT = {
    "title": "fuzz",
    "description": "d",
    "tags": ["sql"],
    "difficulty": "easy",
    "status": "published",
    "cut_off": "5",
    "max_score": "10",
    "duration_minutes": 30,
}
POST = {"title": "fuzz", "body": "b", "tags": ["x"]}
idempotency_keys = st.one_of(st.none(), st.none(), st.sampled_from(["k1", "k2", " ", "x" * 300]))


class WriteApi(RuleBasedStateMachine):
    assessments, attempts, posts, comments = (
        Bundle("assessments"),
        Bundle("attempts"),
        Bundle("posts"),
        Bundle("comments"),
    )
    world: dict = {}

    def send(self, method: str, path: str, who: str = "staff", body: str | bytes | None = None, key: str | None = None):
        headers = dict(self.world["auth"][who])
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        client = self.world["client"]
        if body is None:
            response = getattr(client, method)(path, **headers)
        else:
            data = body if isinstance(body, bytes) else body.encode()
            response = getattr(client, method)(path, data=data, content_type="application/json", **headers)
        self.world["statuses"][response.status_code] += 1
        summary.record("write API (stateful fuzz)", response.status_code)
        assert response.status_code < 500, (method, path, body and body[:300], response.content[:500])
        if response.status_code >= 400:
            errors = response.json()["errors"]
            assert errors and all(
                isinstance(m, list) and m and all(isinstance(x, str) and x for x in m) for m in errors.values()
            ), errors
        return response

    @staticmethod
    def created(response) -> int:
        # A refused create still adds an id (one that never exists): bundle sizes, and so the rules
        # hypothesis can draw, must not depend on the database's state, or replays are flaky.
        return response.json()["id"] if response.status_code == 201 else MISSING_ID

    @rule(target=assessments, body=near_valid(ASSESSMENT), key=idempotency_keys)
    def create_assessment(self, body, key):
        return self.created(self.send("post", "/api/v1/assessments", body=body, key=key))

    @rule(assessment=assessments, body=near_valid(ASSESSMENT))
    def edit_assessment(self, assessment, body):
        self.send("patch", f"/api/v1/assessments/{assessment}", body=body)

    @rule(assessment=assessments, who=st.sampled_from(["staff", "candidate", "outsider"]))
    def read_assessment(self, assessment, who):
        self.send("get", f"/api/v1/assessments/{assessment}", who=who)

    @rule(assessment=consumes(assessments))
    def delete_assessment(self, assessment):
        self.send("delete", f"/api/v1/assessments/{assessment}")

    @rule(
        target=attempts,
        assessment=assessments,
        body=st.sampled_from(["{}"]) | near_valid({}),
        who=st.sampled_from(["candidate", "staff"]),
    )
    def start_attempt(self, assessment, body, who):
        return self.created(self.send("post", f"/api/v1/assessments/{assessment}/attempts", who=who, body=body))

    @rule(attempt=attempts, body=near_valid({"score": "7.5"}), key=idempotency_keys)
    def submit_attempt(self, attempt, body, key):
        self.send("post", f"/api/v1/attempts/{attempt}/submit", who="candidate", body=body, key=key)

    @rule(target=posts, body=near_valid(POST), key=idempotency_keys, who=st.sampled_from(["staff", "candidate"]))
    def create_post(self, body, key, who):
        return self.created(self.send("post", "/api/v1/posts", who=who, body=body, key=key))

    @rule(post=posts, body=near_valid(POST), who=st.sampled_from(["staff", "candidate", "outsider"]))
    def edit_post(self, post, body, who):
        self.send("patch", f"/api/v1/posts/{post}", who=who, body=body)

    @rule(post=consumes(posts), who=st.sampled_from(["staff", "candidate"]))
    def delete_post(self, post, who):
        self.send("delete", f"/api/v1/posts/{post}", who=who)

    @rule(target=comments, post=posts, body=near_valid({"body": "c"}), who=st.sampled_from(["staff", "candidate"]))
    def create_comment(self, post, body, who):
        return self.created(self.send("post", f"/api/v1/posts/{post}/comments", who=who, body=body))

    @rule(comment=consumes(comments), who=st.sampled_from(["staff", "candidate", "outsider"]))
    def delete_comment(self, comment, who):
        self.send("delete", f"/api/v1/comments/{comment}", who=who)

    @rule(
        body=near_valid(
            {"username": "fuzz-user", "password": "long-enough-1", "role": "candidate", "display_name": "F"}
        )
    )
    def create_user(self, body):
        self.send("post", "/api/v1/users", body=body)

    @rule(
        body=near_valid({"username": "nobody", "password": "wrong"}),
        path=st.sampled_from(["/api/v1/auth/token", "/api/v1/auth/login"]),
    )
    def authenticate(self, body, path):
        self.send("post", path, who="anonymous", body=body)

    @rule(
        body=garbage,
        path=st.sampled_from(["/api/v1/assessments", "/api/v1/posts", "/api/v1/users", "/api/v1/auth/token"]),
    )
    def raw_body(self, body, path):
        self.send("post", path, body=body)


@pytest.fixture(scope="module")
def world():
    tenant, outsider = make_tenant(candidates=1), make_tenant(candidates=0)
    return {
        "client": Client(),
        "statuses": Counter(),
        "auth": {
            "staff": {"HTTP_AUTHORIZATION": f"Token {tenant.staff_token}"},
            "candidate": {"HTTP_AUTHORIZATION": f"Token {tenant.candidate_tokens[0]}"},
            "outsider": {"HTTP_AUTHORIZATION": f"Token {outsider.staff_token}"},
            "anonymous": {},
        },
    }


def test_stateful_fuzz_never_5xx(world):
    WriteApi.world = world
    statuses = world["statuses"]
    while (sent := sum(statuses.values())) < CASES:  # hypothesis picks each run's length: top up to CASES
        run_state_machine_as_test(
            WriteApi,
            settings=settings(
                max_examples=max(1, (CASES - sent) // STEPS),
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            ),
        )
    print(f"\nwrite API stateful fuzz: {sum(statuses.values())} requests, by status {dict(sorted(statuses.items()))}")
    assert statuses[201] > 0 and statuses[204] > 0 and any(400 <= s < 500 for s in statuses)  # it reached real writes
