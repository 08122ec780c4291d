"""WSGI entry point of write_service (Gunicorn: write_service.wsgi:application)."""

import io
import json
import os
import sys

from django.core.wsgi import get_wsgi_application

from shared.config import ConfigError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.base")


class ChunkedBodyMiddleware:
    """Django reads CONTENT_LENGTH bytes of wsgi.input and ignores `wsgi.input_terminated`, so a
    chunked body sent straight to Gunicorn (no Content-Length) looked empty. Buffer it, bounded by
    the same upload limit (413 beyond), and hand Django its length; a server that does not
    terminate the input gets a 411 instead of a silent empty body."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    def __call__(self, environ, start_response):
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and not environ.get("CONTENT_LENGTH"):
            if not environ.get("wsgi.input_terminated"):
                return _error(
                    start_response, "411 Length Required", "Chunked bodies are not supported here: send Content-Length."
                )
            body = environ["wsgi.input"].read(self.limit + 1)
            if len(body) > self.limit:
                return _error(
                    start_response, "413 Request Entity Too Large", f"Request body larger than {self.limit} bytes."
                )
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        return self.app(environ, start_response)


def _error(start_response, status: str, message: str):
    body = json.dumps({"errors": {"detail": [message]}}).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Connection", "close")]
    )
    return [body]


try:
    from django.conf import settings

    application = ChunkedBodyMiddleware(get_wsgi_application(), settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
except ConfigError as exc:
    # One sentence instead of a traceback per worker; exit code 4 is Gunicorn's "App failed to
    # load", which stops the arbiter instead of respawning workers that can never boot.
    sys.stderr.write(f"{exc}\n")
    sys.exit(4)
