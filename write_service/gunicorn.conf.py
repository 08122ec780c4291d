"""Gunicorn for write_service: the native stack, compose/ and the bench's instances all run this
file (`gunicorn -c write_service/gunicorn.conf.py`). The search API runs under Granian
(search_api/server.py).

Workers: 2 x cores + 1 (Gunicorn's rule of thumb for I/O-bound apps). gthread workers: each
request waits on PostgreSQL, Redis or Elasticsearch, and threads overlap those waits without
gevent's monkey-patching of psycopg2.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('WRITE_PORT', 8000)}")
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * multiprocessing.cpu_count() + 1))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then (a slow leak never becomes an outage), staggered by jitter.
max_requests = 5000
max_requests_jitter = 500
# Heartbeat files on tmpfs: a slow disk must never make the arbiter kill healthy workers.
worker_tmp_dir = "/dev/shm"
# NGINX in front sets X-Forwarded-*; trust it only from loopback / the compose network.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = "-"
errorlog = "-"
access_log_format = (
    '{"event":"http.access","service":"write","remote":"%(h)s","method":"%(m)s",'
    '"path":"%(U)s","query":"%(q)s","status":%(s)s,"bytes":"%(B)s","duration_ms":%(M)s,'
    '"request_id":"%({x-request-id}i)s","user_agent":"%(a)s"}'
)
proc_name = "write"


def post_worker_init(worker):
    """Import every view before the first request (Django loads the URLconf lazily): the first
    request of each worker is then no slower than the rest, and a worker's memory is at its working
    size from the start, so a growth in RSS means a leak, not a late import."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 (the import is the point)


def child_exit(server, worker):
    """Prometheus multiprocess mode: drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
