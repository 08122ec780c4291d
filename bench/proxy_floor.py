"""The floor under any Python search API on this machine, as a server to measure.

A WSGI app under the search API's own Granian settings (workers, threads) doing only what no
implementation can skip: read the token, one Redis round trip (the admission script, the same
keys), send the API's own Elasticsearch requests for the call (captured by bench/es_bodies.py, byte
for byte, on the search API's node) and answer the last response's bytes. No Django, no
parameter parsing, no query building, no row shaping, no cursor, no log line, no metrics.

  FLOOR_REQUESTS=captured.json python -m bench.proxy_floor PORT
  (captured.json: {"<API path with query>": [{"method", "path", "content_type", "accept", "body"}, ...]})

bench/run's raw_es stage runs it beside the API and the raw replay (`floor` in its figures);
`python -m bench.hot_path measure --target floor=PORT:PGID` does the same in a namespace of one's
own (bench/README.md, "Search API hot path", fourth pass).
"""

from __future__ import annotations

import json
import os
import sys
import time
from urllib.parse import urlsplit

import redis
from elastic_transport import HttpHeaders, NodeConfig

from search_api.admission import _ADMIT_LUA, _USER_KEY_PREFIX
from search_api.es_node import PlainHttpNode
from shared.auth_cache import token_hash, token_key
from shared.config import load_config

_config = load_config()
_es = urlsplit(_config.es_url)
_node = PlainHttpNode(NodeConfig(_es.scheme, _es.hostname, _es.port or 9200, request_timeout=10))
_admit = redis.Redis.from_url(_config.cache_url).register_script(_ADMIT_LUA)
_calls = {
    path: [
        (
            r["method"],
            r["path"],
            r["body"].encode() if r["body"] else None,
            HttpHeaders({"content-type": r["content_type"], "accept": r["accept"]}),
        )
        for r in requests
    ]
    for path, requests in json.loads(open(os.environ.get("FLOOR_REQUESTS", "/dev/null")).read() or "{}").items()
}


def application(environ, start_response):
    if environ["PATH_INFO"] == "/health":
        start_response("200 OK", [("Content-Length", "0")])
        return [b""]
    query = environ.get("QUERY_STRING", "")
    requests = _calls.get(environ["PATH_INFO"] + (f"?{query}" if query else ""))
    if requests is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")[2]
    window = int(time.time() // 60)  # the API's key shapes: its token and user entries are read
    _admit(keys=[token_key(token), f"ratelimit:floor:token:{token_hash(token)}:{window}"], args=[60, _USER_KEY_PREFIX])
    body = b""
    for method, path, payload, headers in requests:
        body = _node.perform_request(method, path, body=payload, headers=headers).body
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def main() -> None:
    from granian.server import Server

    from search_api.server import options

    Server(
        **{**options(), "target": "bench.proxy_floor:application", "port": int(sys.argv[1]), "log_dictconfig": None}
    ).serve()


if __name__ == "__main__":
    main()
