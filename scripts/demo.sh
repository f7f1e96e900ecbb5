#!/usr/bin/env bash
# Build the site with the committed pretrained weights and serve it at http://127.0.0.1:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --wasm-opt
export PATH="$PWD/target/tools/node_modules/.bin:$PATH"
trunk build --release
echo
echo "Kiln is at http://127.0.0.1:${PORT:-8080}/  (Ctrl-C stops the server)"
exec python3 scripts/serve.py dist "${PORT:-8080}"
