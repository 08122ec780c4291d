#!/bin/bash
# One-shot setup of the secured Elasticsearch cluster of compose/docker-compose.cluster.yml, run
# in the official image (its own elasticsearch-certutil, curl and unzip), as Elastic documents for
# a multi-node cluster with security on. Idempotent: every step is skipped or repeated safely.
#
#   setup.sh certs   (service es-certs, as root, before any node starts)
#       a CA, then one certificate per node (DNS name = the compose service name) signed by it.
#       $CA_PRIVATE_DIR  the CA's key and certificate: mounted in this service only
#       $CERTS_DIR       ca/ca.crt and <node>/<node>.{crt,key}: mounted read-only in the nodes
#       $CA_PUBLIC_DIR   ca.crt alone: mounted read-only in the app containers (ES_CA_CERTS)
#   setup.sh users   (service es-users, once the nodes answer)
#       the built-in `elastic` password stored in the cluster (until then each node takes it from
#       its keystore's bootstrap password, ELASTIC_PASSWORD), the application's role (index
#       privileges on ${ES_INDEX_PREFIX}* only, cluster `monitor`) and its user ES_USERNAME with
#       ES_PASSWORD; then checks that this user authenticates.
set -euo pipefail
cd /usr/share/elasticsearch

log() { echo "es-setup: $*"; }
die() { echo "es-setup: $*" >&2; exit 1; }

certs() {
  : "${ES_NODES:?ES_NODES (the node names) is required}" "${CERTS_DIR:?}" "${CA_PRIVATE_DIR:?}" "${CA_PUBLIC_DIR:?}"
  if [[ ! -f $CA_PRIVATE_DIR/ca/ca.key ]]; then
    log "creating the CA"
    bin/elasticsearch-certutil ca --silent --pem --days "${CERT_DAYS:-1095}" -out "$CA_PRIVATE_DIR/ca.zip"
    unzip -oq "$CA_PRIVATE_DIR/ca.zip" -d "$CA_PRIVATE_DIR"
    rm -f "$CA_PRIVATE_DIR/ca.zip"
  fi
  local instances="$CERTS_DIR/instances.yml" wanted="instances:"$'\n'
  for node in $ES_NODES; do
    wanted+="  - name: $node"$'\n'"    dns: [$node, localhost]"$'\n'"    ip: [127.0.0.1]"$'\n'
  done
  # New certificates when the node list changed (or on the first run), never otherwise.
  if [[ ! -f $instances ]] || [[ "$(cat "$instances")"$'\n' != "$wanted" ]]; then
    log "creating certificates for: $ES_NODES"
    printf '%s' "$wanted" > "$instances"
    bin/elasticsearch-certutil cert --silent --pem --days "${CERT_DAYS:-1095}" --in "$instances" \
      --ca-cert "$CA_PRIVATE_DIR/ca/ca.crt" --ca-key "$CA_PRIVATE_DIR/ca/ca.key" -out "$CERTS_DIR/certs.zip"
    unzip -oq "$CERTS_DIR/certs.zip" -d "$CERTS_DIR"
    rm -f "$CERTS_DIR/certs.zip"
  fi
  mkdir -p "$CERTS_DIR/ca"
  cp "$CA_PRIVATE_DIR/ca/ca.crt" "$CERTS_DIR/ca/ca.crt"
  cp "$CA_PRIVATE_DIR/ca/ca.crt" "$CA_PUBLIC_DIR/ca.crt"
  # Nodes run as uid 1000, gid 0: keys readable by group root only; the CA's key by nobody else.
  chown -R root:root "$CERTS_DIR" "$CA_PRIVATE_DIR"
  find "$CERTS_DIR" -type d -exec chmod 750 {} + && find "$CERTS_DIR" -type f -exec chmod 640 {} +
  chmod -R go-rwx "$CA_PRIVATE_DIR"
  chmod 755 "$CA_PUBLIC_DIR" && chmod 644 "$CA_PUBLIC_DIR/ca.crt"
  log "certificates ready"
}

# JSON string bodies are built by hand (the image has no jq): refuse what would need escaping.
check_secret() {
  local name="$1" value="${!1:-}"
  [[ -n $value ]] || die "$name is required."
  [[ ${#value} -ge 6 ]] || die "$name must have at least 6 characters."
  [[ $value != *[\"\\]* ]] || die "$name must not contain a double quote or a backslash."
}

api() {  # api METHOD PATH [BODY] as elastic, on the first node that answers; prints the body
  local method="$1" path="$2" body="${3:-}" node
  for node in $ES_NODES; do
    if curl -fsS --cacert "$CA_PUBLIC_DIR/ca.crt" -u "elastic:$ELASTIC_PASSWORD" -X "$method" \
         -H 'Content-Type: application/json' ${body:+-d "$body"} "https://$node:9200$path"; then
      echo; return 0
    fi
  done
  return 1
}

users() {
  : "${ES_NODES:?}" "${CA_PUBLIC_DIR:?}" "${ES_USERNAME:?ES_USERNAME is required}"
  check_secret ELASTIC_PASSWORD
  check_secret ES_PASSWORD
  [[ $ES_USERNAME =~ ^[A-Za-z0-9_.-]+$ ]] || die "ES_USERNAME may hold letters, digits, _ . - only."
  [[ ${ES_INDEX_PREFIX-} =~ ^[a-z0-9_.-]*$ ]] || die "ES_INDEX_PREFIX may hold lowercase letters, digits, _ . - only."
  log "waiting for the cluster (yellow or better)"
  until api GET "/_cluster/health?wait_for_status=yellow&timeout=30s" >/dev/null; do sleep 5; done
  api POST /_security/user/elastic/_password "{\"password\": \"$ELASTIC_PASSWORD\"}" >/dev/null
  log "role ${ES_APP_ROLE:-cqrs_app}: indices ${ES_INDEX_PREFIX-}*"
  api PUT "/_security/role/${ES_APP_ROLE:-cqrs_app}" "{
    \"cluster\": [\"monitor\"],
    \"indices\": [{\"names\": [\"${ES_INDEX_PREFIX-}*\"],
                   \"privileges\": [\"create_index\", \"delete_index\", \"manage\", \"view_index_metadata\", \"read\", \"write\"]}]
  }" >/dev/null
  log "user $ES_USERNAME"
  api PUT "/_security/user/$ES_USERNAME" \
    "{\"password\": \"$ES_PASSWORD\", \"roles\": [\"${ES_APP_ROLE:-cqrs_app}\"]}" >/dev/null
  local node
  for node in $ES_NODES; do
    if curl -fsS -o /dev/null --cacert "$CA_PUBLIC_DIR/ca.crt" -u "$ES_USERNAME:$ES_PASSWORD" \
         "https://$node:9200/_security/_authenticate"; then
      log "$ES_USERNAME authenticates on $node with the CA's certificate verified: done"
      return 0
    fi
  done
  die "$ES_USERNAME does not authenticate on any of: $ES_NODES"
}

case "${1:-}" in
  certs) certs ;;
  users) users ;;
  *) die "usage: setup.sh certs|users" ;;
esac
