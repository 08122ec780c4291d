#!/usr/bin/env bash
# Local single-node Elasticsearch for the stack, assembled from the jars that Elastic
# publishes on Maven Central (no Docker, no download from elastic.co).
#
# usage: stack/elasticsearch.sh install|start|stop|status|reset
#   install  fetch + assemble the node into the cache (idempotent; offline once cached)
#   start    install if needed, start as a background daemon, wait until healthy
#   stop     stop the daemon (SIGTERM, then SIGKILL after 30 s)
#   status   exit 0 if the node answers and the cluster is green/yellow; prints version/health
#   reset    stop and wipe data/logs/config (the jar cache is kept)
#
# environment:
#   ES_PORT (9200)  ES_TRANSPORT_PORT (ES_PORT+100)  ES_HEAP (512m)  ES_JAVA_OPTS (extra JVM flags)
#   ES_JAVA_HOME (JDK >= 21 with javac; default: newest JDK >= 21 under /usr/lib/jvm)
#   STACK_HOME (/var/lib/cqrs-stack)     -> config/data/logs in $STACK_HOME/elasticsearch/
#   STACK_CACHE (/var/cache/cqrs-stack)  -> jars/assembly in $STACK_CACHE/elasticsearch/
#   ES_START_TIMEOUT (120 seconds)
#   A cluster member (stack/cluster.sh): ES_HOST (bind address), ES_STATE_DIR, ES_CONFIG_FILE
#   (elasticsearch-cluster.yml), ES_NODE_NAME, ES_SEED_HOSTS, ES_INITIAL_MASTERS, ES_WAIT=none
#
# How it works
# ------------
# Elasticsearch 9.5.3 = org.elasticsearch:elasticsearch (the server jar) + its Maven
# dependencies (resolved with mvn into $STACK_CACHE/elasticsearch/m2), which go on the JVM
# module path exactly like lib/ of the official distribution. Modules go to modules/<name>/
# with their plugin-descriptor.properties, as in the distribution. The official entry point
# (org.elasticsearch.bootstrap.Elasticsearch, fed by the unpublished server-cli) needs the
# unpublished entitlement agent jar and refuses root, so, like Elastic's test framework,
# stack/elasticsearch/EsNodeLauncher.java reads config/elasticsearch.yml via
# InternalSettingsPreparer, configures logging via LogConfigurator, loads modules via
# PluginsLoader and runs `new Node(env, pluginsLoader).start()`. The root check lives only in
# that bootstrap, so the node runs as the invoking user (root here) without a service user.
#
# Modules of the distribution that are published on Maven Central for 9.5.3 (checked with
# maven-metadata.xml / the versioned pom under org/elasticsearch/plugin/):
#   included: transport-netty4 (HTTP + transport layer)
#   included: cqrs-rest-root - our stand-in for the unpublished rest-root module
#             (GET / and HEAD /, needed by client info()/ping()), RestRootPlugin.java
#   included: cqrs-analysis - our stand-in for the part of analysis-common the mappings use
#             (English stemmers, asciifolding, configurable lowercase, edge_ngram under the
#             module's own names), CqrsAnalysisPlugin.java; built into
#             $STACK_CACHE/elasticsearch/plugins/cqrs-analysis-<version>-<source hash>/ and
#             copied into modules/ (a source change rebuilds only this, not the assembly)
#   published but not used: x-pack-core (x-pack plumbing; useless without the other x-pack
#             modules, and it is not needed: no security/TLS is wanted here)
#   NOT published (so unavailable): analysis-common (language analyzers such as english,
#             pattern/fingerprint analyzers, uppercase/trim/ngram/synonym... filters beyond what
#             cqrs-analysis registers; the server's standard/simple/whitespace/stop/keyword
#             analyzers, the standard and keyword tokenizers and the lowercase/stop filters
#             work), mapper-extras (scaled_float,
#             rank_feature(s), search_as_you_type, token_count, match_only_text), reindex
#             (_reindex, _update_by_query, _delete_by_query), aggregations (adjacency_matrix,
#             auto_date_histogram, pipeline aggs such as bucket_selector/bucket_sort, ...;
#             terms/range/histogram/date_histogram/stats/etc. are in the server), lang-painless
#             (no scripts: script queries/fields/sorts, scripted updates), lang-mustache (search
#             templates), lang-expression, parent-join, percolator, rank-eval, ingest-common
#             (ingest processors), data-streams, kibana, repository-url, rest-root,
#             health-shards-availability, apm, all x-pack-* except x-pack-core.
#   Native libraries: lib/platform/linux-x64/libzstd.so is linked to Debian's libzstd1;
#   libvec (native vector scoring) is not published, so it is disabled (pure-Java path).
set -euo pipefail

ES_VERSION="${ES_VERSION:-9.5.3}"        # tested with 9.5.3 (newest on Maven Central)
ES_MIN_JAVA=21
ES_PORT="${ES_PORT:-9200}"
ES_TRANSPORT_PORT="${ES_TRANSPORT_PORT:-$((ES_PORT + 100))}"
ES_HEAP="${ES_HEAP:-512m}"
ES_START_TIMEOUT="${ES_START_TIMEOUT:-120}"
STACK_HOME="${STACK_HOME:-/var/lib/cqrs-stack}"
STACK_CACHE="${STACK_CACHE:-/var/cache/cqrs-stack}"
MAVEN_CENTRAL="${MAVEN_CENTRAL:-https://repo1.maven.org/maven2}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/elasticsearch"
CACHE_DIR="$STACK_CACHE/elasticsearch"
ES_DIST="$CACHE_DIR/$ES_VERSION"          # assembled "distribution": lib/ modules/ launcher/
STATE_DIR="${ES_STATE_DIR:-$STACK_HOME/elasticsearch}"  # config/ data/ logs/ tmp/ es.pid
ES_HOST="${ES_HOST:-127.0.0.1}"           # the cluster topology binds each node to its host's address
ES_CONFIG_FILE="${ES_CONFIG_FILE:-elasticsearch.yml}"  # elasticsearch-cluster.yml for a cluster member
ES_WAIT="${ES_WAIT:-health}"              # none: return once started (a cluster member cannot be
                                          # healthy before a quorum of its peers has started)
PID_FILE="$STATE_DIR/es.pid"
STARTED_WITH="$STATE_DIR/es.started-with" # fingerprints of what the running node loaded
URL="http://$ES_HOST:$ES_PORT"
ASSEMBLY_REV=1                            # bump when the assembly layout below changes

log() { echo "[elasticsearch] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

lock() {
    mkdir -p "$STACK_HOME" "$CACHE_DIR"
    exec 9>"$CACHE_DIR/.lock"
    flock -w 600 9 || die "could not take $CACHE_DIR/.lock"
}

# ---------------------------------------------------------------- java
java_feature() { # JAVA_HOME -> feature version (e.g. 25), or empty
    local v=""
    if [[ -f "$1/release" ]]; then
        v=$(sed -n 's/^JAVA_VERSION="\([0-9][0-9]*\).*/\1/p' "$1/release")
    fi
    if [[ -z "$v" && -x "$1/bin/java" ]]; then
        v=$("$1/bin/java" -version 2>&1 | sed -n '1s/.*version "\([0-9][0-9]*\).*/\1/p')
    fi
    echo "$v"
}

select_java() {
    if [[ -n "${ES_JAVA_HOME:-}" ]]; then
        [[ -x "$ES_JAVA_HOME/bin/java" ]] || die "ES_JAVA_HOME=$ES_JAVA_HOME has no bin/java"
        local v; v=$(java_feature "$ES_JAVA_HOME")
        (( ${v:-0} >= ES_MIN_JAVA )) || die "ES_JAVA_HOME=$ES_JAVA_HOME is Java ${v:-?}; Elasticsearch $ES_VERSION needs >= $ES_MIN_JAVA"
        JAVA_HOME_ES="$ES_JAVA_HOME"
        return
    fi
    local best="" bestv=0 jh v
    for jh in ${JAVA_HOME:-} /usr/lib/jvm/*; do
        [[ -d "$jh" && -x "$jh/bin/java" && -x "$jh/bin/javac" ]] || continue
        v=$(java_feature "$jh")
        if (( ${v:-0} >= ES_MIN_JAVA && ${v:-0} > bestv )); then best="$jh"; bestv="$v"; fi
    done
    [[ -n "$best" ]] || die "no JDK >= $ES_MIN_JAVA found under /usr/lib/jvm (set ES_JAVA_HOME)"
    JAVA_HOME_ES="$best"
}

# ---------------------------------------------------------------- install
fingerprint() {
    {
        echo "$ES_VERSION $ASSEMBLY_REV $(java_feature "$JAVA_HOME_ES")"
        cat "$SRC_DIR/EsNodeLauncher.java" "$SRC_DIR/RestRootPlugin.java" "$SRC_DIR/plugin-descriptor.properties"
    } | sha256sum | cut -d' ' -f1
}

is_installed() {
    [[ -f "$ES_DIST/.installed" && "$(cat "$ES_DIST/.installed")" == "$(fingerprint)" ]]
}

analysis_hash() {
    {
        echo "$ES_VERSION $(java_feature "$JAVA_HOME_ES")"
        cat "$SRC_DIR/CqrsAnalysisPlugin.java" "$SRC_DIR/analysis-plugin-descriptor.properties"
    } | sha256sum | cut -d' ' -f1 | cut -c1-16
}

# What a node started now would load: the assembly and the analysis module.
assembly_id() { echo "$(fingerprint) $(analysis_hash)"; }

write_pom() { # dir groupId artifactId
    mkdir -p "$1"
    cat > "$1/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.cqrs-stack</groupId>
  <artifactId>es-$3-deps</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <repositories>
    <repository><id>central</id><url>$MAVEN_CENTRAL</url></repository>
  </repositories>
  <dependencies>
    <dependency><groupId>$2</groupId><artifactId>$3</artifactId><version>$ES_VERSION</version></dependency>
  </dependencies>
</project>
EOF
}

mvn_copy_deps() { # pomdir outdir -- offline from the cached repository first, then online
    local out mode
    for mode in -o ""; do
        if out=$(cd "$1" && mvn -B -q $mode -Dmaven.repo.local="$CACHE_DIR/m2" \
                "$DEP_PLUGIN:copy-dependencies" -DoutputDirectory="$2" -DincludeScope=runtime 2>&1); then
            return 0
        fi
    done
    echo "$out" >&2
    die "maven could not resolve $(basename "$1") $ES_VERSION"
}

do_install() {
    select_java
    if is_installed; then
        log "Elasticsearch $ES_VERSION already assembled in $ES_DIST (JDK $JAVA_HOME_ES)"
    else
        assemble
    fi
    install_analysis_module
}

# The cqrs-analysis module, compiled once per source hash into the cache, then copied into the
# assembly's modules/ when the one there is another build (a running node keeps what it loaded).
install_analysis_module() {
    local hash; hash=$(analysis_hash)
    local target="$ES_DIST/modules/cqrs-analysis"
    [[ -f "$target/.source-hash" && "$(cat "$target/.source-hash")" == "$hash" ]] && return 0
    local built="$CACHE_DIR/plugins/cqrs-analysis-$ES_VERSION-$hash"
    if [[ ! -f "$built/.source-hash" ]]; then
        local t0=$SECONDS stage="$CACHE_DIR/plugins/.stage-analysis.$$"
        rm -rf "$stage"
        mkdir -p "$stage/module" "$stage/classes"
        "$JAVA_HOME_ES/bin/javac" -nowarn --release "$ES_MIN_JAVA" -p "$ES_DIST/lib" --add-modules ALL-MODULE-PATH \
            -d "$stage/classes" "$SRC_DIR/CqrsAnalysisPlugin.java"
        "$JAVA_HOME_ES/bin/jar" cf "$stage/module/cqrs-analysis.jar" -C "$stage/classes" .
        sed -e "s/@ES_VERSION@/$ES_VERSION/g" -e "s/@JAVA_VERSION@/$ES_MIN_JAVA/g" \
            "$SRC_DIR/analysis-plugin-descriptor.properties" > "$stage/module/plugin-descriptor.properties"
        echo "$hash" > "$stage/module/.source-hash"
        rm -rf "$built"
        mv "$stage/module" "$built"
        rm -rf "$stage"
        log "built the cqrs-analysis module $hash in $((SECONDS - t0))s ($built)"
    fi
    # Staged beside modules/, never inside it: a starting node would load a half-copied module.
    rm -rf "$ES_DIST/.stage-analysis"
    cp -a "$built" "$ES_DIST/.stage-analysis"
    rm -rf "$target"
    mv "$ES_DIST/.stage-analysis" "$target"
    log "installed the cqrs-analysis module $hash into $target"
}

assemble() {
    command -v mvn >/dev/null || die "mvn is required for the first install"
    local t0=$SECONDS
    log "assembling Elasticsearch $ES_VERSION from Maven Central into $ES_DIST (JDK $JAVA_HOME_ES)"
    local stage="$CACHE_DIR/.stage-$ES_VERSION.$$"
    rm -rf "$stage"
    mkdir -p "$stage/lib" "$stage/modules/transport-netty4" "$stage/modules/cqrs-rest-root" \
             "$stage/launcher" "$stage/plugins" "$stage/build"

    # 1. server + its dependencies -> lib/ (module path, like the distribution's lib/)
    write_pom "$CACHE_DIR/poms/$ES_VERSION/server" org.elasticsearch elasticsearch
    mvn_copy_deps "$CACHE_DIR/poms/$ES_VERSION/server" "$stage/lib"
    # 2. transport-netty4 module: its jar + the dependencies not already in lib/
    write_pom "$CACHE_DIR/poms/$ES_VERSION/transport-netty4" org.elasticsearch.plugin transport-netty4
    mvn_copy_deps "$CACHE_DIR/poms/$ES_VERSION/transport-netty4" "$stage/build/netty"
    local j
    for j in "$stage"/build/netty/*.jar; do
        [[ -e "$stage/lib/$(basename "$j")" ]] || mv "$j" "$stage/modules/transport-netty4/"
    done
    local njar="$stage/modules/transport-netty4/transport-netty4-$ES_VERSION.jar"
    (cd "$stage/modules/transport-netty4" &&
        "$JAVA_HOME_ES/bin/jar" xf "$njar" META-INF/es-plugins/transport-netty4 &&
        mv META-INF/es-plugins/transport-netty4/* . && rm -rf META-INF)
    [[ -f "$stage/modules/transport-netty4/plugin-descriptor.properties" ]] ||
        die "transport-netty4 jar has no plugin descriptor"
    # 3. native zstd (Debian's libzstd1) where the distribution keeps it; libvec is unpublished
    local zstd
    zstd=$(ls /usr/lib/x86_64-linux-gnu/libzstd.so.1 /usr/lib/*/libzstd.so.1 2>/dev/null | head -1 || true)
    if [[ -n "$zstd" ]]; then
        local plat=linux-x64; [[ "$(uname -m)" == aarch64 ]] && plat=linux-aarch64
        mkdir -p "$stage/lib/platform/$plat"
        ln -s "$zstd" "$stage/lib/platform/$plat/libzstd.so"
    else
        log "warning: libzstd.so.1 not found; Elasticsearch native access (zstd, mmap helpers) will be disabled"
    fi
    # 4. our launcher and the rest-root stand-in, compiled against the fetched jars
    "$JAVA_HOME_ES/bin/javac" -nowarn --release "$ES_MIN_JAVA" -p "$stage/lib" --add-modules ALL-MODULE-PATH \
        -d "$stage/build/launcher" "$SRC_DIR/EsNodeLauncher.java"
    "$JAVA_HOME_ES/bin/jar" cf "$stage/launcher/es-node-launcher.jar" -C "$stage/build/launcher" .
    "$JAVA_HOME_ES/bin/javac" -nowarn --release "$ES_MIN_JAVA" -p "$stage/lib" --add-modules ALL-MODULE-PATH \
        -d "$stage/build/root" "$SRC_DIR/RestRootPlugin.java"
    "$JAVA_HOME_ES/bin/jar" cf "$stage/modules/cqrs-rest-root/cqrs-rest-root.jar" -C "$stage/build/root" .
    sed -e "s/@ES_VERSION@/$ES_VERSION/g" -e "s/@JAVA_VERSION@/$ES_MIN_JAVA/g" \
        "$SRC_DIR/plugin-descriptor.properties" > "$stage/modules/cqrs-rest-root/plugin-descriptor.properties"
    rm -rf "$stage/build"
    fingerprint > "$stage/.installed"

    rm -rf "$ES_DIST"
    mv "$stage" "$ES_DIST"
    log "assembly of Elasticsearch $ES_VERSION done in $((SECONDS - t0))s ($(du -sh "$ES_DIST" | cut -f1) in $ES_DIST)"
}

# ---------------------------------------------------------------- runtime helpers
node_pid() { # prints the pid of our running node, if any
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid=$(cat "$PID_FILE" 2>/dev/null || true)
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q 'cqrs.es.EsNodeLauncher' || return 1
    echo "$pid"
}

health_json() {
    curl -fsS --max-time 5 "$URL/_cluster/health?wait_for_status=yellow&timeout=${1:-1s}" 2>/dev/null
}

is_healthy() {
    local h; h=$(health_json "${1:-1s}") || return 1
    grep -qE '"status":"(green|yellow)"' <<<"$h"
}

json_field() { # json key -> first string value
    sed -n "s/.*\"$2\" *: *\"\\([^\"]*\\)\".*/\\1/p" <<<"$1" | head -1
}

print_log_tail() {
    local f
    for f in "$STATE_DIR/logs/stdout.log" "$STATE_DIR/logs/cqrs-stack.log"; do
        [[ -s "$f" ]] || continue
        log "---- last lines of $f ----"
        tail -n 60 "$f" >&2
    done
}

# ---------------------------------------------------------------- commands
do_start() {
    local t0=$SECONDS pid
    if pid=$(node_pid) && is_healthy; then
        select_java
        if [[ -f "$STARTED_WITH" && "$(cat "$STARTED_WITH")" == "$(assembly_id)" ]]; then
            log "already running"
            do_status
            return 0
        fi
        # e.g. a new cqrs-analysis build: indexes created now would need what the old node lacks
        log "running node (pid $pid) was started from another assembly or module build; restarting it"
        do_stop
        pid=""
    fi
    if [[ -z "${pid:-}" ]] && is_healthy; then
        log "something else already serves a healthy cluster on $URL (not started by this script)"
        do_status
        return 0
    fi
    do_install
    mkdir -p "$STATE_DIR/config" "$STATE_DIR/data" "$STATE_DIR/logs" "$STATE_DIR/tmp"
    if [[ -z "${pid:-}" ]]; then
        rm -f "$PID_FILE"
        cp "$SRC_DIR/$ES_CONFIG_FILE" "$STATE_DIR/config/elasticsearch.yml"
        cp "$SRC_DIR/log4j2.properties" "$STATE_DIR/config/"
        ulimit -n 65535 2>/dev/null || true
        local -a jvm=(
            "-Xms$ES_HEAP" "-Xmx$ES_HEAP" -XX:+UseG1GC
            -XX:-OmitStackTraceInFastThrow "-XX:ErrorFile=$STATE_DIR/logs/hs_err_pid%p.log"
            "-Djava.io.tmpdir=$STATE_DIR/tmp" -Dfile.encoding=UTF-8 -Djava.awt.headless=true
            -Djava.locale.providers=CLDR
            -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true -Dio.netty.recycler.maxCapacityPerThread=0
            -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true -Dlog4j2.formatMsgNoLookups=true
            -Dorg.elasticsearch.nativeaccess.enableVectorLibrary=false
            "-Des.path.home=$ES_DIST" "-Des.path.conf=$STATE_DIR/config" -Des.distribution.type=tar
            --enable-native-access=org.elasticsearch.nativeaccess,org.elasticsearch.foreign,org.apache.lucene.core
            --add-modules=jdk.incubator.vector,jdk.net
            --module-path "$ES_DIST/lib" --add-modules=ALL-MODULE-PATH
        )
        # shellcheck disable=SC2206
        local -a extra=(${ES_JAVA_OPTS:-})
        log "starting Elasticsearch $ES_VERSION on $URL (heap $ES_HEAP, JDK $JAVA_HOME_ES)"
        ES_DATA_DIR="$STATE_DIR/data" ES_LOGS_DIR="$STATE_DIR/logs" ES_PORT="$ES_PORT" \
        ES_TRANSPORT_PORT="$ES_TRANSPORT_PORT" ES_HOST="$ES_HOST" \
            setsid nohup "$JAVA_HOME_ES/bin/java" "${jvm[@]}" "${extra[@]}" \
                -cp "$ES_DIST/launcher/es-node-launcher.jar" cqrs.es.EsNodeLauncher \
                "--pidfile=$PID_FILE" \
                > "$STATE_DIR/logs/stdout.log" 2>&1 < /dev/null 9>&- &
        pid=$!
        echo "$pid" > "$PID_FILE"
        assembly_id > "$STARTED_WITH"
        [[ $ES_WAIT == none ]] && return 0
    else
        log "node process $pid exists but is not healthy yet; waiting"
    fi
    local deadline=$((SECONDS + ES_START_TIMEOUT))
    while (( SECONDS < deadline )); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "Elasticsearch process $pid exited during startup"
            print_log_tail
            rm -f "$PID_FILE"
            exit 1
        fi
        if is_healthy 1s; then
            local h; h=$(health_json)
            echo "elasticsearch $ES_VERSION healthy on $URL (status $(json_field "$h" status), pid $pid, ready in $((SECONDS - t0))s)"
            return 0
        fi
        sleep 0.5
    done
    log "Elasticsearch did not become healthy within ${ES_START_TIMEOUT}s"
    print_log_tail
    do_stop
    exit 1
}

do_stop() {
    local pid
    if ! pid=$(node_pid); then
        rm -f "$PID_FILE"
        log "not running"
        return 0
    fi
    log "stopping Elasticsearch (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still alive after 30s, killing"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    rm -f "$PID_FILE" "$STARTED_WITH"
    log "stopped"
}

do_status() {
    local root h pid
    pid=$(node_pid || true)
    if ! root=$(curl -fsS --max-time 5 "$URL/" 2>/dev/null) || ! h=$(health_json); then
        echo "elasticsearch: not running on $URL${pid:+ (pid $pid exists but does not answer)}"
        return 1
    fi
    local version status
    version=$(json_field "$root" number)
    status=$(json_field "$h" status)
    echo "elasticsearch $version on $URL: cluster $(json_field "$h" cluster_name) status $status${pid:+, pid $pid}"
    [[ "$status" == green || "$status" == yellow ]]
}

do_reset() {
    do_stop
    rm -rf "$STATE_DIR/data" "$STATE_DIR/logs" "$STATE_DIR/tmp" "$STATE_DIR/config"
    log "wiped $STATE_DIR (jar cache in $CACHE_DIR kept)"
}

case "${1:-}" in
    install) lock; do_install ;;
    start) lock; do_start ;;
    stop) lock; do_stop ;;
    status) do_status ;;
    reset) lock; do_reset ;;
    *) echo "usage: $0 install|start|stop|status|reset" >&2; exit 2 ;;
esac
