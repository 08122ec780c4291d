"""PlainHttpNode's two timeouts, against a socket server of the test's own: connecting gives up
after CONNECT_TIMEOUT_SECONDS (a node cut off is skipped quickly), but an answer that is merely
slow has the request's whole timeout, on a new socket as on a reused one."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from elastic_transport import NodeConfig

from search_api.es_node import CONNECT_TIMEOUT_SECONDS, PlainHttpNode

pytestmark = pytest.mark.fast
BODY = b'{"ok":true}'


def slow_server(delay: float) -> tuple[int, threading.Thread]:
    """Answers one request per connection after `delay` seconds; returns its port."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            connection, _ = listener.accept()
            with connection:
                connection.recv(65536)
                time.sleep(delay)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(BODY)).encode()
                    + b"\r\n\r\n"
                    + BODY
                )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return port, thread


def test_a_slow_answer_on_a_new_socket_gets_the_request_timeout():
    delay = CONNECT_TIMEOUT_SECONDS + 0.5
    port, thread = slow_server(delay)
    node = PlainHttpNode(NodeConfig("http", "127.0.0.1", port, request_timeout=delay + 2))
    response = node.perform_request("GET", "/")
    assert response.meta.status == 200 and response.body == BODY
    thread.join(timeout=5)


def test_connecting_gives_up_after_the_connect_timeout():
    # A listening socket whose backlog is full accepts no more connections: SYNs go unanswered,
    # as they do for a node whose link is down.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        node = PlainHttpNode(NodeConfig("http", "127.0.0.1", port, request_timeout=10))
        started = time.monotonic()
        with pytest.raises(Exception) as failure:
            node.perform_request("GET", "/")
        assert time.monotonic() - started < 10 - 1, failure.value
    finally:
        for filler in fillers:
            filler.close()
        listener.close()
