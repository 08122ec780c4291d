"""Container health check of a Gunicorn service: GET a URL, exit 0 on 2xx, 1 otherwise.

Django answers 400 to a Host header outside ALLOWED_HOSTS (production has no localhost default),
so the request carries a host the settings accept: the first concrete entry of ALLOWED_HOSTS.
Standard library only; runs as `python /app/compose/http_health.py URL` inside the app image.
"""

import os
import sys
import urllib.error
import urllib.request


def allowed_host() -> str:
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        entry = entry.strip().lstrip(".")  # ".example.com" allows example.com itself too
        if entry and entry != "*":
            return entry
    return "localhost"


def main(url: str) -> int:
    request = urllib.request.Request(url, headers={"Host": allowed_host()})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return 0 if 200 <= response.status < 300 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
