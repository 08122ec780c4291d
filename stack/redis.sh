#!/usr/bin/env bash
# Redis on REDIS_PORT with the project's redis.conf (noeviction, AOF persistence).
source "$(dirname "$0")/lib.sh"
DATA_DIR="$STACK_HOME/redis"
cli() { redis-cli -p "$REDIS_PORT" "$@"; }

case "${1:-start}" in
  start)
    ensure_packages redis-server
    mkdir -p "$DATA_DIR" "$STACK_LOGS"
    if ! cli ping >/dev/null 2>&1; then
      redis-server "$STACK_ROOT/conf/redis.conf" --port "$REDIS_PORT" --dir "$DATA_DIR" \
        --daemonize yes --pidfile "$DATA_DIR/redis.pid" --logfile "$STACK_LOGS/redis.log"
    fi
    wait_for redis bash -c "redis-cli -p $REDIS_PORT ping | grep -q PONG"
    ;;
  stop) cli shutdown nosave >/dev/null 2>&1 || true
        WAIT_SECONDS=20 wait_for "redis shutdown" bash -c "! redis-cli -p $REDIS_PORT ping" ;;
  status) [[ $(cli ping 2>/dev/null) == PONG && $(cli config get maxmemory-policy | tail -1) == noeviction ]] ;;
  reset) "$0" stop; rm -rf "$DATA_DIR" ;;
  *) die "usage: $0 start|stop|status|reset" ;;
esac
