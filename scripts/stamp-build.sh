#!/bin/sh
# Trunk post-build hook: writes kiln-build.json beside the wasm, naming its SHA-256, so that the
# worker keeps the module in Cache Storage keyed by its content (www/content-cache.js): a second
# visit reads it from disk, and a rebuilt module is fetched fresh.
set -eu
dir="${TRUNK_STAGING_DIR:?this runs as a Trunk hook}"
wasm="$dir/kiln-web_bg.wasm"
if command -v sha256sum >/dev/null 2>&1; then
  hash=$(sha256sum "$wasm" | cut -d ' ' -f 1)
else
  hash=$(shasum -a 256 "$wasm" | cut -d ' ' -f 1)
fi
printf '{ "wasm": { "file": "kiln-web_bg.wasm", "sha256": "%s" } }\n' "$hash" > "$dir/kiln-build.json"
