#!/usr/bin/env bash
# The /docs/ page (API reference): Swagger UI from the npm registry, exactly as
# stack/docs_ui/package-lock.json pins it, beside our own page (stack/docs_ui/page/). NGINX serves
# the assembled directory as static files, so the browser loads nothing from another host.
#
# usage: stack/docs_ui.sh install|path
#   install  `npm ci` into $STACK_CACHE/docs_ui/<hash of the lock> (once per lock: offline
#            afterwards), then assemble $REPO_ROOT/var/docs (the page plus Swagger UI's dist files)
#   path     print the assembled directory (NGINX_DOCS_ROOT)
source "$(dirname "$0")/lib.sh"
SRC="$STACK_ROOT/docs_ui"
SITE="$REPO_ROOT/var/docs"
# The files of swagger-ui-dist the page loads (stack/docs_ui/page/index.html).
VENDOR_FILES=(swagger-ui-bundle.js swagger-ui.css)

install() {
  command -v npm >/dev/null || ensure_packages npm
  local key modules
  key=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -c1-16)
  modules="$STACK_CACHE/docs_ui/$key"
  mkdir -p "$STACK_CACHE/docs_ui"
  exec 9>"$STACK_CACHE/docs_ui/.lock"
  flock -w 300 9 || die "could not take $STACK_CACHE/docs_ui/.lock"
  if [[ ! -f $modules/.complete ]]; then
    log "installing the docs page's npm packages (package-lock.json) into $modules"
    rm -rf "$modules"; mkdir -p "$modules"
    cp "$SRC/package.json" "$SRC/package-lock.json" "$modules/"
    # --ignore-scripts: swagger-ui-dist's only dependency (@scarf/scarf) is an install-time
    # analytics ping; nothing of ours needs a package script.
    (cd "$modules" && SCARF_ANALYTICS=false npm ci --ignore-scripts --no-audit --no-fund --loglevel=error \
       --cache "$STACK_CACHE/docs_ui/npm-cache") >&2 || die "npm ci failed in $modules"
    touch "$modules/.complete"
  fi
  # Assembled afresh every time (a few MB): the page always matches this checkout.
  rm -rf "$SITE.new"; mkdir -p "$SITE.new/vendor"
  cp "$SRC"/page/* "$SITE.new/"
  for f in "${VENDOR_FILES[@]}"; do cp "$modules/node_modules/swagger-ui-dist/$f" "$SITE.new/vendor/"; done
  rm -rf "$SITE"; mv "$SITE.new" "$SITE"
}

case "${1:-install}" in
  install) install ;;
  path) echo "$SITE" ;;
  *) die "usage: $0 install|path" ;;
esac
