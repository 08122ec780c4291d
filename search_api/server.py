"""The search API's HTTP server: Granian (HTTP/1.1 in Rust) running search_api.wsgi:application.

`python -m search_api.server` (stack/apps.sh and compose/ alike). Chosen over Gunicorn gthread by
measurement (bench/README.md, "Search API hot path", third pass): the same Django app costs ~1 ms
less CPU per list request and ~0.5 ms less per health check, the HTTP parsing, the connection
handling and the hand-off to the app thread being Rust instead of Python. The write service stays
on Gunicorn (its time is in DRF and PostgreSQL).

Workers: one per core (the app is CPU-bound between its waits), each with SEARCH_THREADS threads
running the app, so one worker's Elasticsearch and Redis waits overlap. The access log line
(`http.access`) is written by search_api.middleware, structured like every other line.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

from granian.constants import HTTPModes, Interfaces
from granian.server import Server

from shared.config import ConfigError, load_config
from shared.structured_logging import logging_dict_config


def options() -> dict:
    # SEARCH_BIND host:port (compose: 0.0.0.0:8001); natively loopback on SEARCH_PORT.
    host, _, port = os.environ.get("SEARCH_BIND", f"127.0.0.1:{os.environ.get('SEARCH_PORT', 8001)}").rpartition(":")
    return {
        "target": "search_api.wsgi:application",
        "interface": Interfaces.WSGI,
        "address": host,
        "port": int(port),
        "workers": int(os.environ.get("SEARCH_WORKERS", multiprocessing.cpu_count())),
        "blocking_threads": int(os.environ.get("SEARCH_THREADS", 4)),
        "http": HTTPModes.http1,  # NGINX speaks HTTP/1.1 to upstreams
        "websockets": False,
        "backlog": 2048,
        # A worker that dies is replaced; one whose memory keeps growing (a slow leak) is
        # recycled before it matters (Gunicorn's max_requests did this by request count).
        "respawn_failed_workers": True,
        "workers_max_rss": int(os.environ.get("SEARCH_WORKER_MAX_RSS_MIB", 512)),
        "workers_kill_timeout": 20,  # requests in flight get this long on shutdown
        "log_dictconfig": logging_dict_config("INFO"),
        "log_access": False,
    }


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("SEARCH_SETTINGS_MODULE", "search_api.settings")
    try:
        load_config()  # a bad environment stops here with one sentence, before any worker starts
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(4)
    Server(**options()).serve()


if __name__ == "__main__":
    main()
