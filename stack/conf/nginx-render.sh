#!/bin/sh
# Renders stack/conf/nginx.conf for one host: every ${NGINX_*} placeholder in the template must
# be set in the environment (a missing one is an error, never an empty directive), and only those
# names are substituted, so NGINX's own $variables stay as they are. POSIX sh and envsubst only:
# the same script runs natively (stack/nginx.sh) and inside the official nginx image (compose/).
#
# An *_UPSTREAM value may list several addresses separated by spaces (the cluster topology's app
# hosts): the template line that holds it is repeated once per address, options and all.
#
# usage: nginx-render.sh TEMPLATE OUTPUT
set -eu
template="$1" output="$2"
names=$(grep -o '\${NGINX_[A-Z_]*}' "$template" | sort -u | sed 's/^\${//; s/}$//')
for name in $names; do
  eval "value=\${$name:-}"
  if [ -z "$value" ]; then
    echo "nginx-render: $name is not set; it is required by $template." >&2
    exit 1
  fi
done
expanded=$(mktemp)
trap 'rm -f "$expanded"' EXIT
awk -v write="$NGINX_WRITE_UPSTREAM" -v search="$NGINX_SEARCH_UPSTREAM" '
  function repeat(line, name, list,   n, parts, i, copy) {
    n = split(list, parts, " ")
    for (i = 1; i <= n; i++) { copy = line; sub("\\$\\{" name "\\}", parts[i], copy); print copy }
  }
  index($0, "${NGINX_WRITE_UPSTREAM}") { repeat($0, "NGINX_WRITE_UPSTREAM", write); next }
  index($0, "${NGINX_SEARCH_UPSTREAM}") { repeat($0, "NGINX_SEARCH_UPSTREAM", search); next }
  { print }' "$template" > "$expanded"
# envsubst takes the list of names to replace, as "${A} ${B}".
envsubst "$(for name in $names; do printf '${%s} ' "$name"; done)" < "$expanded" > "$output"
