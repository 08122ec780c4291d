"""Elasticsearch client factories, one client per process: get_es_client() for every caller, and
search_es_client() for the search API's hot path (the same client on a leaner node, HttpClientNode)."""
from __future__ import annotations

import functools
import http.client
import platform
import socket
import threading
import time
from typing import Any, ClassVar

import orjson
from elastic_transport import ApiResponseMeta, BaseNode, ConnectionError, ConnectionTimeout, HttpHeaders, NodeConfig
from elastic_transport._node import NodeApiResponse  # the node interface's return type
from elastic_transport.client_utils import DEFAULT
from elasticsearch import Elasticsearch
from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

from shared.config import load_config


class OrjsonNdjsonSerializer(NdjsonSerializer):
    """ndjson bodies (_msearch, _bulk) through orjson: the client's default ndjson serializer is the
    stdlib json module, line by line, even when `serializer=OrjsonSerializer()` is given (that one
    only replaces application/json and its compatibility mimetype)."""

    mimetype: ClassVar[str] = "application/x-ndjson"

    def json_dumps(self, data: Any) -> bytes:
        return orjson.dumps(data, default=self.default)

    def json_loads(self, data: bytes) -> Any:
        return orjson.loads(data)


@functools.cache
def get_es_client() -> Elasticsearch:
    config = load_config()
    return Elasticsearch(
        config.es_url,
        request_timeout=30,
        max_retries=2,
        retry_on_timeout=True,
        connections_per_node=32,
        # orjson: a third of the client's own time per search went to json.dumps/loads (bench/);
        # the compatibility mimetypes (what the client actually sends) follow these two.
        serializers={"application/json": OrjsonSerializer(), "application/x-ndjson": OrjsonNdjsonSerializer()},
    )


class HttpClientNode(BaseNode):
    """A plain-HTTP node on the standard library's http.client: one keep-alive connection per
    thread, no pool machinery. urllib3's node costs ~0.2-0.3 ms of CPU per request more on the
    search hot path (pool checkout, its response object, header copies; issue 16, bench/README.md);
    the Transport above (retries, node pool, serializers, errors) is the official client's own.

    Only for reads (the search API): a request on a reused connection that the server closed while
    it was idle is sent once more on a new one, which is safe only because searches are idempotent."""

    _CLIENT_META_HTTP_CLIENT = ("hc", platform.python_version())

    def __init__(self, config: NodeConfig):
        if config.scheme != "http":
            raise ValueError("HttpClientNode speaks plain HTTP only (loopback / private network)")
        super().__init__(config)
        self._timeout = config.request_timeout
        self._local = threading.local()

    def perform_request(self, method: str, target: str, body: bytes | None = None, headers: HttpHeaders | None = None,
                        request_timeout: Any = DEFAULT) -> NodeApiResponse:
        request_headers = self._headers.copy()
        if headers:
            request_headers.update(headers)
        timeout = self._timeout if request_timeout is DEFAULT else request_timeout
        start = time.time()
        try:
            try:
                response, data = self._exchange(method, self.path_prefix + target, body, request_headers, timeout,
                                                fresh=False)
            except _STALE as exc:
                if not getattr(exc, "reused", False):
                    raise
                response, data = self._exchange(method, self.path_prefix + target, body, request_headers, timeout,
                                                fresh=True)
        except socket.timeout as exc:
            self._drop()
            raise ConnectionTimeout("Connection timed out during request", errors=(exc,)) from exc
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise ConnectionError(str(exc), errors=(exc,)) from exc
        meta = ApiResponseMeta(node=self.config, duration=time.time() - start, http_version="1.1",
                               status=response.status, headers=HttpHeaders(response.getheaders()))
        return NodeApiResponse(meta, data)

    def _exchange(self, method, target, body, headers, timeout, *, fresh: bool):
        connection = None if fresh else getattr(self._local, "connection", None)
        reused = connection is not None
        if connection is None:
            self._drop()
            connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        elif connection.timeout != timeout:
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            return response, response.read()
        except _STALE as exc:
            self._drop()
            exc.reused = reused
            raise

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def close(self) -> None:
        self._drop()


# What a keep-alive connection closed by the server while idle raises on its next request.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@functools.cache
def search_es_client(request_timeout: float) -> Elasticsearch:
    """The search API's client: as get_es_client(), on HttpClientNode, pooled per thread."""
    config = load_config()
    return Elasticsearch(
        config.es_url,
        node_class=HttpClientNode,
        request_timeout=request_timeout,
        max_retries=2,
        retry_on_timeout=True,
        serializers={"application/json": OrjsonSerializer(), "application/x-ndjson": OrjsonNdjsonSerializer()},
    )
