#!/usr/bin/env bash
# Headless Chromium for the browser tests (tests/e2e/test_docs_page.py), from Debian's own
# `chromium` package, unpacked into the cache without installing it: nothing lands in /usr, and
# no dpkg state changes. apt computes which packages this machine lacks for it (`apt-get -s
# install`), `apt-get download` fetches exactly those, and `dpkg -x` unpacks each into
# $STACK_CACHE/chromium/<version>/root; a wrapper puts the unpacked libraries on LD_LIBRARY_PATH.
# Offline once cached. If the machine has the package installed, its /usr/bin/chromium is used.
#
# usage: stack/chromium.sh install|path
#   install  fetch and unpack if needed (idempotent), check the browser starts
#   path     install if needed, then print the executable to run
source "$(dirname "$0")/lib.sh"
CACHE_DIR="$STACK_CACHE/chromium"

# True when the executable renders a page that needs JavaScript.
works() {
  "$1" --headless --no-sandbox --disable-gpu --dump-dom \
    'data:text/html,<p id=x></p><script>x.textContent="js-"+"ok"</script>' 2>/dev/null | grep -q 'js-ok'
}

candidate() { apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}'; }

install() {
  if dpkg -s chromium >/dev/null 2>&1; then echo /usr/bin/chromium; return 0; fi
  mkdir -p "$CACHE_DIR"
  exec 9>"$CACHE_DIR/.lock"
  flock -w 600 9 || die "could not take $CACHE_DIR/.lock"
  if [[ -x $CACHE_DIR/current/chromium ]] && works "$CACHE_DIR/current/chromium"; then
    echo "$CACHE_DIR/current/chromium"; return 0
  fi
  local version
  version="$(candidate)"
  if [[ -z $version || $version == "(none)" ]]; then apt-get update -qq; version="$(candidate)"; fi
  [[ -n $version && $version != "(none)" ]] || die "Debian's apt knows no chromium package"
  local dir="$CACHE_DIR/$version" packages
  log "unpacking Debian's chromium $version into $dir (not installed system-wide)"
  rm -rf "$dir"; mkdir -p "$dir/debs" "$dir/root"
  # What `apt-get install chromium` would add to this machine: the browser and its missing libraries.
  packages=$(apt-get -s install --no-install-recommends chromium | awk '/^Inst /{print $2}')
  [[ -n $packages ]] || die "apt-get -s install chromium listed no package"
  # shellcheck disable=SC2086
  (cd "$dir/debs" && apt-get download -qq $packages 2>/dev/null) || die "apt-get download failed for: $packages"
  for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir/root"; done
  rm -rf "$dir/debs"
  local libs
  libs=$(find "$dir/root/usr/lib" -name '*.so*' -printf '%h\n' | sort -u | paste -sd:)
  cat >"$dir/chromium" <<SH
#!/bin/sh
# Debian's chromium $version, unpacked by stack/chromium.sh.
LD_LIBRARY_PATH="$libs\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$dir/root/usr/lib/chromium/chromium" "\$@"
SH
  chmod +x "$dir/chromium"
  works "$dir/chromium" || die "the unpacked chromium does not start (try: $dir/chromium --headless --no-sandbox about:blank)"
  ln -sfn "$dir" "$CACHE_DIR/current"
  echo "$dir/chromium"
}

case "${1:-install}" in
  install) install >/dev/null ;;
  path) install ;;
  *) die "usage: $0 install|path" ;;
esac
