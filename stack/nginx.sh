#!/usr/bin/env bash
# NGINX in front of write_service and search_api, from conf/nginx.conf (the file compose/ uses),
# rendered for APP_ENV: dev listens on 8080 and fronts 8000/8001; test listens on 8180 and fronts
# the test processes (TEST_WRITE_PORT/TEST_SEARCH_PORT, 8100/8101). Our own process with its own
# prefix, pid and temp files under $STACK_HOME/nginx/<namespace>, never the Debian default site.
#
# usage: stack/nginx.sh start|stop|restart|reload|status|config
#   config   print the rendered configuration (nothing is started)
# environment: APP_ENV (dev|test), NGINX_PORT, STACK_NAMESPACE (as in stack/apps.sh)
source "$(dirname "$0")/lib.sh"
export APP_ENV="${APP_ENV:-dev}"
if [[ $APP_ENV == test ]]; then
  NGINX_PORT="${NGINX_PORT:-8180}"
  write_port="${TEST_WRITE_PORT:-8100}" search_port="${TEST_SEARCH_PORT:-8101}"
else
  NGINX_PORT="${NGINX_PORT:-8080}"
  write_port="${WRITE_PORT:-8000}" search_port="${SEARCH_PORT:-8001}"
fi
STACK_NAMESPACE="${STACK_NAMESPACE:-$APP_ENV}"
PREFIX="${NGINX_PREFIX:-$STACK_HOME/nginx/$STACK_NAMESPACE}"
LOG_DIR="$STACK_LOGS/$STACK_NAMESPACE"
CONF="$PREFIX/nginx.conf"
PID_FILE="$PREFIX/nginx.pid"
# The placeholders of conf/nginx.conf (see its header); loopback only, like every native service.
# The cluster topology (stack/cluster.sh) sets the bind address and lists both app hosts.
export NGINX_LISTEN="${NGINX_BIND:-127.0.0.1}:$NGINX_PORT"
export NGINX_WRITE_UPSTREAM="${NGINX_WRITE_UPSTREAM:-127.0.0.1:$write_port}"
export NGINX_SEARCH_UPSTREAM="${NGINX_SEARCH_UPSTREAM:-127.0.0.1:$search_port}"
export NGINX_STATIC_ROOT="$REPO_ROOT/var/static"
NGINX_DOCS_ROOT="$("$STACK_ROOT/docs_ui.sh" path)"; export NGINX_DOCS_ROOT
export NGINX_ACCESS_LOG="$LOG_DIR/nginx-access.log"

nginx_cmd() { nginx -p "$PREFIX/" -c "$CONF" -e stderr "$@"; }

render() {
  mkdir -p "$PREFIX" "$LOG_DIR" "$NGINX_STATIC_ROOT" "$NGINX_DOCS_ROOT"
  "$STACK_ROOT/conf/nginx-render.sh" "$STACK_ROOT/conf/nginx.conf" "$CONF.new"
  # Workers run as an unprivileged user; a checkout that user cannot read (under /root, say)
  # would answer every static file with 403, so they run as the checkout's owner instead.
  local user="www-data"
  runuser -u "$user" -- test -r "$NGINX_STATIC_ROOT" -a -x "$NGINX_STATIC_ROOT" 2>/dev/null || user="$(stat -c %U "$REPO_ROOT")"
  WORKER_USER="$user"
  nginx -p "$PREFIX/" -c "$CONF.new" -e stderr -g "user $WORKER_USER;" -t -q || die "rendered nginx.conf is invalid (see above)"
  mv "$CONF.new" "$CONF"
}

pid() { [[ -f $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null && cat "$PID_FILE"; }
healthy() { pid >/dev/null && curl -fsS -m 2 "http://${NGINX_BIND:-127.0.0.1}:$NGINX_PORT/nginx/health" >/dev/null; }

start() {
  if healthy; then return 0; fi
  ensure_packages nginx-light
  "$STACK_ROOT/docs_ui.sh" install   # the /docs/ page's files (cached npm install)
  render
  # Foreground master (daemon off) in its own session, like stack/apps.sh: its stderr (the error
  # log) goes to our log file, and stop signals exactly this master.
  setsid nohup nginx -p "$PREFIX/" -c "$CONF" -e stderr -g "daemon off; user $WORKER_USER;" \
    >>"$LOG_DIR/nginx-error.log" 2>&1 < /dev/null &
  if ! (WAIT_SECONDS=20 wait_for "nginx ($APP_ENV on $NGINX_PORT)" healthy); then
    tail -20 "$LOG_DIR/nginx-error.log" >&2; exit 1
  fi
}

stop() {
  local master
  master="$(pid)" || return 0
  kill -QUIT "$master" 2>/dev/null || true   # graceful: finish requests in flight
  for _ in $(seq 1 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$master" 2>/dev/null || true
  rm -f "$PID_FILE"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  reload) render; kill -HUP "$(pid)" 2>/dev/null || die "nginx ($APP_ENV) is not running" ;;
  status)
    if healthy; then printf '%-18s %-6s up    pid %s port %s\n' nginx "$APP_ENV" "$(pid)" "$NGINX_PORT"
    else printf '%-18s %-6s DOWN  port %s\n' nginx "$APP_ENV" "$NGINX_PORT"; exit 1; fi ;;
  config) "$STACK_ROOT/conf/nginx-render.sh" "$STACK_ROOT/conf/nginx.conf" /dev/stdout ;;
  *) die "usage: $0 start|stop|restart|reload|status|config" ;;
esac
