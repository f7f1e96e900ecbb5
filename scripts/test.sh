#!/usr/bin/env bash
# Every test: native unit and CLI tests, then the built site in headless Chromium
# on WebGPU (SwiftShader) and on the CPU fallback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser

echo "==> no import cycles between modules"
python3 scripts/import-cycles.py crates/*/src

echo "==> native tests"
# Also builds target/debug/kiln, which the browser tests compare against. (A separate
# `cargo build -p kiln-train` would resolve other features and rebuild burn from scratch.)
cargo test --workspace --locked

echo "==> building the site for the browser tests (wasm-dev profile, no wasm-opt)"
trunk build --dist dist-test

echo "==> kiln-web's JavaScript boundary and kiln-kernels' simd128 product, on wasm32 in Node (reuses the site's wasm-dev build)"
cargo test -p kiln-web -p kiln-kernels --target wasm32-unknown-unknown --profile wasm-dev --locked

echo "==> browser tests"
cd tests/browser
node --test --test-concurrency=1 .
