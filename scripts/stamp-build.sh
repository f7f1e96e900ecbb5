#!/bin/sh
# Trunk post-build hook: writes kiln-build.json beside the wasm modules, naming each one's
# SHA-256, so that the worker keeps them in Cache Storage keyed by their content
# (www/content-cache.js): a second visit reads them from disk, and a rebuilt module is fetched fresh.
set -eu
dir="${TRUNK_STAGING_DIR:?this runs as a Trunk hook}"
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d ' ' -f 1
  else shasum -a 256 "$1" | cut -d ' ' -f 1; fi
}
entries=""
for wasm in "$dir"/*_bg.wasm; do
  file=$(basename "$wasm")
  entries="${entries:+$entries, }\"$file\": \"$(sha256 "$wasm")\""
done
printf '{ "wasm": { %s } }\n' "$entries" > "$dir/kiln-build.json"
