#!/usr/bin/env bash
# The cluster topology of the native stack: several hosts on this one machine, as Linux network
# namespaces joined by a bridge that this script creates, each host with its own private address.
# Only those addresses and loopback are ever contacted.
#
#   host   address       runs
#   es1-3  10.77.0.11-13 one Elasticsearch node each (master-eligible + data, replicas 1)
#   pg1-3  10.77.0.21-23 one etcd member + Patroni managing PostgreSQL (synchronous mode)
#   app1-2 10.77.0.31-32 HAProxy (finds the primary through Patroni's REST API), pgBouncer,
#                        the write service, the search API, a worker per queue, listener, beat
#   edge   10.77.0.40    Redis (broker and cache), NGINX balancing both app hosts
#
# usage: stack/cluster.sh up|down|status|reset
#        stack/cluster.sh start HOST [component...]   (re)start a host's processes
#        stack/cluster.sh kill HOST [component...]    kill -9 a host's processes (all by default)
#        stack/cluster.sh stop-es HOST                stop an Elasticsearch node gracefully
#        stack/cluster.sh link HOST up|down           partition a host (its link down) or heal it
#        stack/cluster.sh exec HOST command...        run a command on a host (an operator shell)
#        stack/cluster.sh env HOST                    the app settings of an app host (KEY=VALUE)
# environment: APP_ENV (dev: the demo data; test: the suite's), CLUSTER_SUBNET (10.77.0)
source "$(dirname "$0")/lib.sh"
export APP_ENV="${APP_ENV:-dev}"
SUBNET="${CLUSTER_SUBNET:-10.77.0}"
BRIDGE="cqbr0"
CLUSTER_HOME="$STACK_HOME/cluster"
PATRONI_ENV="$STACK_CACHE/patroni"
ES_HOSTS=(es1 es2 es3)
PG_HOSTS=(pg1 pg2 pg3)
APP_HOSTS=(app1 app2)
ALL_HOSTS=("${ES_HOSTS[@]}" "${PG_HOSTS[@]}" "${APP_HOSTS[@]}" edge)
PG_SUPERUSER_PASSWORD="${PG_SUPERUSER_PASSWORD:-postgres}"
WRITE_PORT=8000 SEARCH_PORT=8001 NGINX_PORT=8080 PATRONI_PORT=8008
HAPROXY_PRIMARY_PORT=5000 HAPROXY_REPLICA_PORT=5001 HAPROXY_STATS_PORT=7000

address() {
  case "$1" in
    es[1-3]) echo "$SUBNET.1${1#es}" ;;
    pg[1-3]) echo "$SUBNET.2${1#pg}" ;;
    app[1-2]) echo "$SUBNET.3${1#app}" ;;
    edge) echo "$SUBNET.40" ;;
    *) die "unknown host $1 (hosts: ${ALL_HOSTS[*]})" ;;
  esac
}
netns() { echo "cq-$1"; }
veth() { echo "cqv-$1"; }
on() { local host="$1"; shift; ip netns exec "$(netns "$host")" "$@"; }
joined() { local IFS=,; echo "$*"; }
# each FORMAT HOST...: FORMAT per host, comma-joined; {addr} and {name} are replaced.
each() {
  local fmt="$1" h item out=(); shift
  for h in "$@"; do item="${fmt//\{addr\}/$(address "$h")}"; out+=("${item//\{name\}/$h}"); done
  joined "${out[@]}"
}

# ---------------------------------------------------------------- network
net_up() {
  ensure_packages iproute2
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
    ip addr add "$SUBNET.1/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  local host ns
  for host in "${ALL_HOSTS[@]}"; do
    ns="$(netns "$host")"
    ip netns list | grep -qw "$ns" || ip netns add "$ns"
    if ! ip link show "$(veth "$host")" >/dev/null 2>&1; then
      ip link add "$(veth "$host")" type veth peer name eth0 netns "$ns"
      ip link set "$(veth "$host")" master "$BRIDGE"
    fi
    ip link set "$(veth "$host")" up
    on "$host" ip link set lo up
    on "$host" ip addr replace "$(address "$host")/24" dev eth0
    on "$host" ip link set eth0 up
  done
}

# Tolerates leftovers of a killed run: namespaces and the bridge outlive the processes.
net_down() {
  local host ns
  for host in "${ALL_HOSTS[@]}"; do
    ns="$(netns "$host")"
    if ip netns list | grep -qw "$ns"; then
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
      ip netns delete "$ns" 2>/dev/null || true
    fi
    ip link delete "$(veth "$host")" 2>/dev/null || true
  done
  ip link delete "$BRIDGE" 2>/dev/null || true
}

link() {
  local host="$1" state="$2"
  [[ $state == up || $state == down ]] || die "usage: link HOST up|down"
  ip link set "$(veth "$host")" "$state"
  log "$host link $state"
}

# ---------------------------------------------------------------- processes
# A process of a host: started in its namespace, own process group, pid and log in the host's dir.
spawn() {
  local host="$1" name="$2"; shift 2
  local dir="$CLUSTER_HOME/$host"
  mkdir -p "$dir/run" "$STACK_LOGS/cluster"
  if proc_alive "$host" "$name"; then return 0; fi
  # Not through on(): a backgrounded function is a subshell, and $! would be its pid, not the
  # process group leader's that kill_proc signals.
  ip netns exec "$(netns "$host")" setsid nohup "$@" >>"$STACK_LOGS/cluster/$host-$name.log" 2>&1 </dev/null &
  echo $! >"$dir/run/$name.pid"
}
proc_pid() { local f="$CLUSTER_HOME/$1/run/$2.pid"; [[ -f $f ]] && cat "$f"; }
proc_alive() {
  local pid; pid="$(proc_pid "$1" "$2")" || return 1
  kill -0 "$pid" 2>/dev/null && [[ $(ps -o stat= -p "$pid" 2>/dev/null) != Z* ]]
}
kill_proc() {
  local pid; pid="$(proc_pid "$1" "$2")" || return 0
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  rm -f "$CLUSTER_HOME/$1/run/$2.pid"
}

# ---------------------------------------------------------------- Elasticsearch
es_start() {
  local host="$1"
  on "$host" env ES_HOST="$(address "$host")" ES_PORT=9200 ES_TRANSPORT_PORT=9300 \
    ES_STATE_DIR="$CLUSTER_HOME/$host/elasticsearch" ES_CONFIG_FILE=elasticsearch-cluster.yml \
    ES_NODE_NAME="$host" ES_SEED_HOSTS="$(each '{addr}:9300' "${ES_HOSTS[@]}")" \
    ES_INITIAL_MASTERS="$(joined "${ES_HOSTS[@]}")" ES_WAIT=none ES_HEAP="${ES_HEAP:-512m}" \
    "$STACK_ROOT/elasticsearch.sh" start
}
es_stop() { # graceful: SIGTERM, as a rolling restart stops a node
  on "$1" env ES_HOST="$(address "$1")" ES_STATE_DIR="$CLUSTER_HOME/$1/elasticsearch" "$STACK_ROOT/elasticsearch.sh" stop
}
es_kill() {
  local pid; pid="$(cat "$CLUSTER_HOME/$1/elasticsearch/es.pid" 2>/dev/null)" || return 0
  kill -KILL "$pid" 2>/dev/null || true
}
es_url() { echo "http://$(address "$1"):9200"; }
es_health() { # the cluster's health as any reachable node answers it
  local host
  for host in "${ES_HOSTS[@]}"; do
    curl -fsS -m 3 "$(es_url "$host")/_cluster/health?${1:-}" 2>/dev/null && return 0
  done
  return 1
}
es_wait_green() {
  WAIT_SECONDS="${1:-180}" wait_for "Elasticsearch cluster green" \
    bash -c "curl -fsS -m 5 '$(es_url es1)/_cluster/health?wait_for_status=green&wait_for_nodes=3&timeout=4s' | grep -q '\"status\":\"green\"'"
}

# ---------------------------------------------------------------- etcd + Patroni + PostgreSQL
patroni_install() {
  ensure_packages etcd-server haproxy pgbouncer "postgresql-$PG_VERSION"
  local req="$PATRONI_ENV/requirements.txt" want
  mkdir -p "$PATRONI_ENV"
  # From the lock file (pyproject's `cluster` group), into an environment the postgres user can
  # read (the project's .venv may live under a home directory it cannot enter).
  want="$(cd "$REPO_ROOT" && uv export --only-group cluster --frozen --no-hashes --no-header --no-emit-project)"
  if [[ -x $PATRONI_ENV/venv/bin/patroni && -f $req && "$(cat "$req")" == "$want" ]]; then return 0; fi
  log "installing Patroni into $PATRONI_ENV/venv"
  uv venv -q --allow-existing --python /usr/bin/python3.11 "$PATRONI_ENV/venv"
  printf '%s\n' "$want" >"$req.new"
  uv pip install -q --python "$PATRONI_ENV/venv/bin/python" -r "$req.new"
  mv "$req.new" "$req"
}

etcd_start() {
  local host="$1" addr; addr="$(address "$host")"
  local dir="$CLUSTER_HOME/$host/etcd" state=existing
  [[ -d $dir/member ]] || state=new
  mkdir -p "$dir"
  # Defaults tuned for a LAN; on a 2-core box shared by the whole cluster the election timeout
  # gets headroom so a busy CPU is not mistaken for a dead leader. Pre-vote: a member coming back
  # from a partition (with the term it kept raising while alone) asks before it campaigns, so it
  # does not depose the leader, which would leave Patroni without etcd for an election and make
  # the new primary step down.
  spawn "$host" etcd /usr/bin/etcd --name "$host" --data-dir "$dir" \
    --listen-client-urls "http://$addr:2379,http://127.0.0.1:2379" --advertise-client-urls "http://$addr:2379" \
    --listen-peer-urls "http://$addr:2380" --initial-advertise-peer-urls "http://$addr:2380" \
    --initial-cluster "$(each '{name}=http://{addr}:2380' "${PG_HOSTS[@]}")" \
    --initial-cluster-state "$state" --initial-cluster-token cqrs-etcd \
    --heartbeat-interval 200 --election-timeout 2000 --pre-vote
}

patroni_config() {
  local host="$1" addr dir; addr="$(address "$host")"; dir="$CLUSTER_HOME/$host"
  mkdir -p "$dir/postgres" "$dir/pgrun"
  chown postgres:postgres "$dir/postgres" "$dir/pgrun"; chmod 700 "$dir/postgres"
  sed -e "s|@NAME@|$host|g" -e "s|@ADDRESS@|$addr|g" -e "s|@DIR@|$dir|g" -e "s|@SUBNET@|$SUBNET.0/24|g" \
      -e "s|@ETCD_HOSTS@|$(each '{addr}:2379' "${PG_HOSTS[@]}")|g" -e "s|@PG_BIN@|$PG_BIN|g" \
      -e "s|@PG_SUPERUSER_PASSWORD@|$PG_SUPERUSER_PASSWORD|g" -e "s|@PG_REPLICATION_PASSWORD@|$PG_REPLICATION_PASSWORD|g" \
      -e "s|@PG_USER@|$PG_USER|g" -e "s|@PG_PASSWORD@|$PG_PASSWORD|g" \
      "$STACK_ROOT/conf/patroni.yml" >"$dir/patroni.yml"
  cp "$STACK_ROOT/conf/patroni-post-bootstrap.sh" "$dir/post-bootstrap.sh"
  chown postgres:postgres "$dir/patroni.yml" "$dir/post-bootstrap.sh"
  chmod 600 "$dir/patroni.yml"; chmod 700 "$dir/post-bootstrap.sh"
}

patroni_start() {
  local host="$1"
  patroni_config "$host"
  spawn "$host" patroni env PG_USER="$PG_USER" PG_PASSWORD="$PG_PASSWORD" \
    runuser -u postgres -- "$PATRONI_ENV/venv/bin/patroni" "$CLUSTER_HOME/$host/patroni.yml"
}

# kill -9 of Patroni leaves its PostgreSQL running (an orphan, as on a real host when the agent
# dies): killing a pg host kills the postmaster too.
postgres_kill() {
  local pidfile="$CLUSTER_HOME/$1/postgres/postmaster.pid"
  [[ -f $pidfile ]] && kill -KILL "$(head -1 "$pidfile")" 2>/dev/null || true
}

patronictl() { "$PATRONI_ENV/venv/bin/patronictl" -c "$CLUSTER_HOME/pg1/patroni.yml" "$@"; }
patroni_get() { # path on any reachable Patroni REST API
  local host
  for host in "${PG_HOSTS[@]}"; do curl -fsS -m 3 "http://$(address "$host"):$PATRONI_PORT/$1" 2>/dev/null && return 0; done
  return 1
}
pg_wait_leader() {
  WAIT_SECONDS="${1:-120}" wait_for "a Patroni leader with a synchronous standby" \
    bash -c "$(declare -f address each joined); SUBNET=$SUBNET; for h in pg1 pg2 pg3; do curl -fsS -m 2 http://\$(address \$h):$PATRONI_PORT/cluster; done | grep -q '\"role\": *\"sync_standby\"\\|\"role\":\"sync_standby\"'"
}

# ---------------------------------------------------------------- app hosts
haproxy_start() {
  local host="$1" dir="$CLUSTER_HOME/$1"
  mkdir -p "$dir/run"
  sed -e "s|@PRIMARY_PORT@|$HAPROXY_PRIMARY_PORT|g" -e "s|@REPLICA_PORT@|$HAPROXY_REPLICA_PORT|g" \
      -e "s|@PATRONI_PORT@|$PATRONI_PORT|g" -e "s|@PID@|$dir/run/haproxy.pid|g" -e "s|@STATS_PORT@|$HAPROXY_STATS_PORT|g" \
      "$STACK_ROOT/conf/haproxy.cfg" >"$dir/haproxy.cfg"
  local pg
  for pg in "${PG_HOSTS[@]}"; do
    sed -i -e "/^# @SERVERS_PRIMARY@/a\\    server $pg $(address "$pg"):5432 check" \
           -e "/^# @SERVERS_REPLICA@/a\\    server $pg $(address "$pg"):5432 check" "$dir/haproxy.cfg"
  done
  haproxy -c -q -f "$dir/haproxy.cfg" || die "$dir/haproxy.cfg is invalid"
  spawn "$host" haproxy haproxy -W -db -f "$dir/haproxy.cfg"
  # HAProxy counts a checked server as up until its checks fail: nothing may connect through it
  # before the checks have sorted the primary from the standbys.
  WAIT_SECONDS=30 wait_for "$host's HAProxy to find exactly one primary" haproxy_primary_known "$host"
}
haproxy_primary_known() {
  local csv; csv="$(on "$1" curl -fsS -m 2 "http://127.0.0.1:$HAPROXY_STATS_PORT/;csv")" || return 1
  # Every primary-pool server checked at least once (check_status no longer INI) and one UP.
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
           $1 == "postgres_primary" && $2 ~ /^pg/ { n++; if ($col["status"] == "UP") up++;
                                                    if ($col["check_status"] ~ /INI/) init++ }
           END { exit !(n > 0 && up == 1 && init == 0) }' <<<"$csv"
}

pgbouncer_start() {
  local host="$1" dir="$CLUSTER_HOME/$1/pgbouncer"
  mkdir -p "$dir"
  printf '"%s" "%s"\n' "$PG_USER" "$PG_PASSWORD" >"$dir/userlist.txt"
  cp "$STACK_ROOT/conf/pgbouncer.ini" "$dir/pgbouncer-common.ini"
  cat >"$dir/pgbouncer.ini" <<INI
;; Written by stack/cluster.sh: the primary is whichever node this host's HAProxy routes to.
[databases]
* = host=127.0.0.1 port=$HAPROXY_PRIMARY_PORT

[pgbouncer]
%include $dir/pgbouncer-common.ini
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
auth_file = $dir/userlist.txt
logfile = $STACK_LOGS/cluster/$host-pgbouncer-server.log
pidfile = $dir/pgbouncer.pid
admin_users = $PG_USER
stats_users = $PG_USER
INI
  touch "$STACK_LOGS/cluster/$host-pgbouncer-server.log"
  chown -R postgres:postgres "$dir" "$STACK_LOGS/cluster/$host-pgbouncer-server.log"; chmod 600 "$dir/userlist.txt"
  spawn "$host" pgbouncer runuser -u postgres -- pgbouncer -q "$dir/pgbouncer.ini"
}

# The settings of an app host's processes: everything through this host's own HAProxy and
# pgBouncer, Redis on the edge, every Elasticsearch node. A search stuck on a node that is cut off
# gives up after 4 s and is retried on another node (SEARCH_ES_TIMEOUT_SECONDS).
app_env() {
  local host="$1"
  cat <<ENV
APP_ENV=$APP_ENV
STACK_NAMESPACE=cluster-$APP_ENV-$host
PG_HOST=127.0.0.1
PGBOUNCER_PORT=$PGBOUNCER_PORT
PG_PRIMARY_HOST=127.0.0.1
PG_PORT=$HAPROXY_PRIMARY_PORT
PG_REPLICA_HOST=127.0.0.1
PG_REPLICA_PORT=$HAPROXY_REPLICA_PORT
REDIS_URL=redis://$(address edge):6379
ES_URL=$(each 'http://{addr}:9200' "${ES_HOSTS[@]}")
ES_NUMBER_OF_REPLICAS=1
WRITE_PORT=$WRITE_PORT
SEARCH_PORT=$SEARCH_PORT
TEST_WRITE_PORT=$WRITE_PORT
TEST_SEARCH_PORT=$SEARCH_PORT
GUNICORN_BIND=0.0.0.0:$WRITE_PORT
SEARCH_BIND=0.0.0.0:$SEARCH_PORT
FORWARDED_ALLOW_IPS=$(address edge)
SEARCH_ES_TIMEOUT_SECONDS=4
SEARCH_RATE_LIMIT=${SEARCH_RATE_LIMIT:-600}
PATRONI_URLS=$(each "http://{addr}:$PATRONI_PORT" "${PG_HOSTS[@]}")
ETCD_URLS=$(each 'http://{addr}:2379' "${PG_HOSTS[@]}")
ENV
}

on_app() { local host="$1"; shift; on "$host" env $(app_env "$host") PYTHONPATH="$REPO_ROOT" "$@"; }
apps_start() { on_app "$1" "$STACK_ROOT/apps.sh" start "${@:2}"; }
apps_kill() {
  local run="$STACK_HOME/run/cluster-$APP_ENV-$1" f
  for f in "$run"/*.pid; do
    [[ -f $f ]] || continue
    kill -KILL -- "-$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

# ---------------------------------------------------------------- edge
redis_start() {
  local dir="$CLUSTER_HOME/edge/redis"
  mkdir -p "$dir"
  # The bridge is private to this machine; production puts a password and TLS here.
  spawn edge redis redis-server "$STACK_ROOT/conf/redis.conf" --bind "$(address edge) 127.0.0.1" \
    --protected-mode no --port 6379 --dir "$dir" --daemonize no
  WAIT_SECONDS=30 wait_for "redis on edge" on edge redis-cli -h 127.0.0.1 ping
}

nginx_start() {
  local prefix="$CLUSTER_HOME/edge/nginx"
  local write="" search="" host
  for host in "${APP_HOSTS[@]}"; do
    write+="$(address "$host"):$WRITE_PORT " search+="$(address "$host"):$SEARCH_PORT "
  done
  on edge env APP_ENV="$APP_ENV" STACK_NAMESPACE="cluster-$APP_ENV-edge" NGINX_PORT="$NGINX_PORT" \
    NGINX_BIND="$(address edge)" NGINX_WRITE_UPSTREAM="$write" NGINX_SEARCH_UPSTREAM="$search" \
    NGINX_PREFIX="$prefix" "$STACK_ROOT/nginx.sh" start
}

# ---------------------------------------------------------------- hosts
start_host() {
  local host="$1"; shift
  local components=("$@")
  case "$host" in
    es*) es_start "$host" ;;
    pg*) ((${#components[@]})) || components=(etcd patroni)
         for c in "${components[@]}"; do "${c}_start" "$host"; done ;;
    app*) ((${#components[@]})) || components=(haproxy pgbouncer apps)
          for c in "${components[@]}"; do
            case "$c" in haproxy|pgbouncer) "${c}_start" "$host" ;; *) apps_start "$host" ;; esac
          done ;;
    edge) redis_start; nginx_start ;;
  esac
}

kill_host() {
  local host="$1"; shift
  local components=("$@")
  if ((${#components[@]} == 0)); then
    # A host's sudden death: every process in its namespace at once.
    case "$host" in app*) apps_kill "$host" ;; pg*) postgres_kill "$host" ;; esac
    ip netns pids "$(netns "$host")" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    rm -f "$CLUSTER_HOME/$host"/run/*.pid "$CLUSTER_HOME/$host"/elasticsearch/es.pid
    return 0
  fi
  local c
  for c in "${components[@]}"; do
    case "$c" in
      es) es_kill "$host" ;;
      postgres) postgres_kill "$host" ;;
      apps) apps_kill "$host" ;;
      *) kill_proc "$host" "$c" ;;
    esac
  done
}

migrate() {
  on_app app1 "$REPO_ROOT/.venv/bin/python" "$REPO_ROOT/manage.py" migrate --no-input -v0
  on_app app1 "$REPO_ROOT/.venv/bin/python" "$REPO_ROOT/manage.py" search_indexes ensure
}

status() {
  local rc=0 host
  printf '\n%-6s %-13s %s\n' host address processes
  for host in "${ALL_HOSTS[@]}"; do
    local state="link up"
    [[ $(cat "/sys/class/net/$(veth "$host")/operstate" 2>/dev/null) == up ]] || state="LINK DOWN"
    printf '%-6s %-13s %s: %s\n' "$host" "$(address "$host")" "$state" \
      "$(ls "$CLUSTER_HOME/$host/run" 2>/dev/null | sed 's/\.pid$//' | tr '\n' ' ')"
  done
  echo
  if h="$(es_health)"; then echo "elasticsearch: $h"; else echo "elasticsearch: no node answers"; rc=1; fi
  if c="$(patroni_get cluster)"; then echo "patroni: $c"; else echo "patroni: no member answers"; rc=1; fi
  return $rc
}

up() {
  local started=$SECONDS
  [[ $(id -u) == 0 ]] || die "run as root: the cluster makes network namespaces and a bridge"
  "$STACK_ROOT/python_env.sh"
  # Every install from here, in the machine's own network: the hosts reach only each other.
  "$STACK_ROOT/elasticsearch.sh" install
  patroni_install
  ensure_packages nginx-light redis-server
  "$STACK_ROOT/docs_ui.sh" install
  net_up
  local host
  for host in "${ES_HOSTS[@]}"; do es_start "$host"; done
  for host in "${PG_HOSTS[@]}"; do etcd_start "$host"; done
  for host in "${PG_HOSTS[@]}"; do patroni_start "$host"; done
  redis_start
  pg_wait_leader 180
  es_wait_green 180
  for host in "${APP_HOSTS[@]}"; do haproxy_start "$host"; pgbouncer_start "$host"; done
  WAIT_SECONDS=60 wait_for "the primary through app1's pgBouncer" \
    on app1 env PGPASSWORD="$PG_PASSWORD" psql -X -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U "$PG_USER" -d postgres -tAc 'select 1'
  migrate
  for host in "${APP_HOSTS[@]}"; do apps_start "$host"; done
  nginx_start
  status
  log "cluster up in $((SECONDS - started))s: NGINX on http://$(address edge):$NGINX_PORT/"
}

case "${1:-}" in
  up) up ;;
  down) for host in "${ALL_HOSTS[@]}"; do kill_host "$host" 2>/dev/null || true; done; net_down ;;
  reset) "$0" down; rm -rf "$CLUSTER_HOME" ;;
  status) status ;;
  start) start_host "$2" "${@:3}" ;;
  kill) kill_host "$2" "${@:3}" ;;
  link) link "$2" "$3" ;;
  stop-es) es_stop "$2" ;;
  exec) host="$2"; shift 2; if [[ $host == app* ]]; then on_app "$host" "$@"; else on "$host" "$@"; fi ;;
  env) app_env "$2" ;;
  es-health) es_health "${2:-}" ;;
  es-wait-green) es_wait_green "${2:-180}" ;;
  pg-wait-leader) pg_wait_leader "${2:-120}" ;;
  patronictl) shift; patronictl "$@" ;;
  *) die "usage: stack/cluster.sh up|down|status|reset|start|kill|link|exec|env|es-health|es-wait-green|pg-wait-leader|patronictl" ;;
esac
