"""The search API's Elasticsearch client: the official client (Transport, retries, node pool,
errors) on PlainHttpNode, a leaner node for its hot path, built once per process and timeout.
The indexer and the operator commands use shared.es_client.get_es_client.
"""

from __future__ import annotations

import functools
import platform
import socket
import threading
import time
from typing import Any

import httptools
from elastic_transport import ApiResponseMeta, BaseNode, ConnectionError, ConnectionTimeout, HttpHeaders, NodeConfig
from elastic_transport._node import NodeApiResponse  # the node interface's return type
from elastic_transport.client_utils import DEFAULT
from elasticsearch import Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

from shared.config import load_config
from shared.es_client import OrjsonNdjsonSerializer, node_options


class PlainHttpNode(BaseNode):
    """A plain-HTTP node: one keep-alive socket per thread, requests written as bytes, responses
    parsed by httptools (llhttp, the parser uvicorn uses). http.client spent half of this node's
    time building its request and parsing headers through the email package; urllib3 adds a pool
    and response objects on top of that (issue 16, bench/README.md "Search API hot path"). The
    Transport above (retries, node pool, serializers, errors) is the official client's own.

    Only for reads (the search API): a request on a reused socket that the server closed while it
    was idle is sent once more on a new one, which is safe only because searches are idempotent."""

    _CLIENT_META_HTTP_CLIENT = ("pl", platform.python_version())

    def __init__(self, config: NodeConfig):
        if config.scheme != "http":
            raise ValueError("PlainHttpNode speaks plain HTTP only (loopback / private network)")
        super().__init__(config)
        self._timeout = config.request_timeout
        self._host_header = f"{self.host}:{self.port}"
        self._local = threading.local()

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: Any = DEFAULT,
    ) -> NodeApiResponse:
        request_headers = self._headers.copy()
        if headers:
            request_headers.update(headers)
        timeout = self._timeout if request_timeout is DEFAULT else request_timeout
        request = _request_bytes(method, self.path_prefix + target, self._host_header, request_headers, body)
        start = time.time()
        try:
            try:
                response = self._exchange(request, method, timeout, fresh=False)
            except _Stale:
                response = self._exchange(request, method, timeout, fresh=True)
        except TimeoutError as exc:
            self._drop()
            raise ConnectionTimeout("Connection timed out during request", errors=(exc,)) from exc
        except (OSError, httptools.HttpParserError, _Stale) as exc:
            self._drop()
            raise ConnectionError(str(exc) or type(exc).__name__, errors=(exc,)) from exc
        meta = ApiResponseMeta(
            node=self.config,
            duration=time.time() - start,
            http_version="1.1",
            status=response.status,
            headers=HttpHeaders(response.headers),
        )
        return NodeApiResponse(meta, response.body)

    def _exchange(self, request: bytes, method: str, timeout: float, *, fresh: bool) -> _Response:
        sock = None if fresh else getattr(self._local, "sock", None)
        reused = sock is not None
        if sock is None:
            self._drop()
            # A node that is down or cut off is given up on quickly, and the request retried on another.
            sock = socket.create_connection((self.host, self.port), timeout=min(timeout, CONNECT_TIMEOUT_SECONDS))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.sock = sock
        sock.settimeout(timeout)  # the request's own timeout for the exchange, on a new socket too
        response = _Response(head_only=method == "HEAD")
        parser = httptools.HttpResponseParser(response)
        try:
            sock.sendall(request)
            while not response.complete:
                data = sock.recv(_READ_SIZE)
                if not data:
                    raise (
                        _Stale("the server closed the connection")
                        if reused and not response.started
                        else ConnectionResetError("the server closed the connection mid-response")
                    )
                response.started = True
                parser.feed_data(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            self._drop()
            if reused and not response.started:
                raise _Stale(str(exc)) from exc
            raise
        response.status = parser.get_status_code()
        if response.closes:  # HTTP/1.1 keeps the connection unless the server says otherwise
            self._drop()
        return response

    def _drop(self) -> None:
        sock = getattr(self._local, "sock", None)
        if sock is not None:
            sock.close()
            self._local.sock = None

    def close(self) -> None:
        self._drop()


_READ_SIZE = 256 * 1024
CONNECT_TIMEOUT_SECONDS = 1.0  # a private network: a live node accepts within milliseconds


class _Stale(Exception):
    """A reused keep-alive socket that the server had closed: nothing of the response was read."""


class _Response:
    """httptools' callbacks for one response; `body` is the whole body once `complete`."""

    __slots__ = ("head_only", "started", "complete", "closes", "status", "headers", "_chunks")

    def __init__(self, *, head_only: bool):
        self.head_only, self.started, self.complete, self.closes = head_only, False, False, False
        self.status, self.headers, self._chunks = 0, [], []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))
        if name.lower() == b"connection" and value.lower() == b"close":
            self.closes = True

    def on_headers_complete(self) -> None:
        if self.head_only:  # a HEAD response announces a length but sends no body
            self.complete = True

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        self.complete = True

    @property
    def body(self) -> bytes:
        return self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)


def _request_bytes(method: str, target: str, host: str, headers: HttpHeaders, body: bytes | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    lines.append(f"Content-Length: {len(body) if body else 0}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


@functools.cache
def search_es_client(request_timeout: float) -> Elasticsearch:
    """The search API's client: as get_es_client(), on PlainHttpNode (a socket per thread) unless the
    nodes speak https (a secured cluster), which keeps the client's own node."""
    config = load_config()
    options = node_options(config)
    if all(url.startswith("http://") for url in config.es_nodes):
        options["node_class"] = PlainHttpNode
    return Elasticsearch(
        **options,
        request_timeout=request_timeout,
        max_retries=2,
        retry_on_timeout=True,
        serializers={"application/json": OrjsonSerializer(), "application/x-ndjson": OrjsonNdjsonSerializer()},
    )
