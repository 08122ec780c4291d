"""Chunked request bodies sent straight to Gunicorn: NGINX de-chunks them, but Django
alone read CONTENT_LENGTH bytes, so a chunked body looked empty ("This field is required" for
fields that were sent, a 400 instead of 413 for 300 KiB). Now read, with the same limit and parser."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests import summary
from tests.helpers import make_tenant
from write_service.discussions.models import Post
from write_service.platform.parsers import MAX_DEPTH

BODY_LIMIT = 256 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE
DEPTH_ERROR = {"errors": {"detail": [f"JSON nested deeper than {MAX_DEPTH} levels."]}}


def _chunked(server: str, path: str, body: bytes, headers: dict, chunk: int = 4096) -> tuple[int, dict]:
    url = urlsplit(server)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", path)
    for name, value in {"Content-Type": "application/json", "Transfer-Encoding": "chunked", **headers}.items():
        conn.putheader(name, value)
    conn.endheaders()
    for start in range(0, len(body), chunk):
        piece = body[start : start + chunk]
        conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    status, payload = response.status, json.loads(response.read() or b"null")
    conn.close()
    summary.record("write API (HTTP)", status)
    return status, payload


@pytest.fixture(scope="module")
def staff():
    return make_tenant(candidates=0)


def test_chunked_body_is_read_not_treated_as_empty(write_server, staff):
    body = json.dumps({"title": "chunked", "body": "sent in chunks. " * 100 + "end", "tags": ["chunk"]}).encode()
    status, payload = _chunked(
        write_server, "/api/v1/posts", body, {"Authorization": f"Token {staff.staff_token}"}, chunk=7
    )
    assert status == 201, payload
    assert (
        payload["title"] == "chunked"
        and payload["body"] == "sent in chunks. " * 100 + "end"
        and payload["tags"] == ["chunk"]
    )
    assert Post.objects.get(pk=payload["id"]).body == payload["body"]


def test_chunked_body_has_the_same_limit_and_parser(write_server, staff):
    auth = {"Authorization": f"Token {staff.staff_token}"}
    posts = Post.objects.filter(organisation=staff.organisation)
    posts_before = posts.count()
    big = json.dumps({"title": "too big", "body": "x" * (300 * 1024)}).encode()
    status, payload = _chunked(write_server, "/api/v1/posts", big, auth)
    assert status == 413 and payload == {"errors": {"detail": [f"Request body larger than {BODY_LIMIT} bytes."]}}
    status, payload = _chunked(write_server, "/api/v1/auth/token", ("[" * 1000 + "]" * 1000).encode(), {})
    assert status == 400 and payload == DEPTH_ERROR
    status, payload = _chunked(write_server, "/api/v1/posts", b'{"title": "t"}', auth)
    assert status == 400 and payload == {"errors": {"body": ["This field is required."]}}
    assert posts.count() == posts_before
