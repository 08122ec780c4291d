"""Waiting for an HTTP server to answer its health check: the bench's processes and the fault
tests' restarted services."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests


def wait_healthy(
    url: str, timeout: float = 60, *, process: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Until GET `url` answers 200; RuntimeError after `timeout` s, or at once if `process` (the
    server, when we started it) has exited. `log` is named in the error."""
    see = f"; see {log}" if log else ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server of {url} exited with {process.returncode}{see}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not healthy after {timeout}s{see}")
