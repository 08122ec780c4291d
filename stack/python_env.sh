#!/usr/bin/env bash
# The project's Python environment: uv (pinned here) installs exactly what uv.lock says into .venv.
source "$(dirname "$0")/lib.sh"
UV_VERSION="0.13.9"

ensure_uv() {
  if command -v uv >/dev/null && [[ $(uv --version | awk '{print $2}') == "$UV_VERSION" ]]; then return 0; fi
  log "installing uv $UV_VERSION"
  python3.11 -m pip install -q "uv==$UV_VERSION" 2>/dev/null || python3 -m pip install -q "uv==$UV_VERSION"
}

ensure_uv
cd "$REPO_ROOT"
# --frozen: the lock file is the truth; a stale lock is an error, not a silent re-resolve.
uv sync --frozen --quiet --python 3.11
