#!/usr/bin/env bash
# Install what building, serving and testing Kiln need, skipping whatever is already there.
# Usage: scripts/setup.sh [--browser] [--wasm-opt] [--lighthouse] [--tfjs]
# (--browser: what the tests need, chromium and espeak-ng among it)
set -euo pipefail
cd "$(dirname "$0")/.."

WASM_BINDGEN_VERSION=$(sed -n '/^name = "wasm-bindgen"$/{n;s/^version = "\(.*\)"$/\1/p;q}' Cargo.lock)
TRUNK_VERSION=0.21.14   # trunk 0.22 needs rustc 1.96
BINARYEN_VERSION=132    # Debian's binaryen 108 writes modules that fail to load
LIGHTHOUSE_VERSION=12.8.2  # 13 needs Node.js 22
TFJS_VERSION=4.22.0       # the peer rows of tests/browser/bench.mjs
TOOLS="$PWD/target/tools"

want_browser=false want_wasm_opt=false want_lighthouse=false want_tfjs=false
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=true ;;
    --wasm-opt) want_wasm_opt=true ;;
    --lighthouse) want_browser=true want_lighthouse=true ;;
    --tfjs) want_browser=true want_tfjs=true ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The toolchain, its components and the wasm32 target come from rust-toolchain.toml. rustup
# does not install a pinned toolchain on first use, so ask for it (a no-op when present).
rustup toolchain install --no-self-update
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
# The standard library's source: scripts/build-threads.sh rebuilds it with wasm atomics.
rustup component list --installed | grep -qx rust-src || rustup component add rust-src

if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (matches Cargo.lock)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ "$(trunk --version 2>/dev/null)" != "trunk $TRUNK_VERSION" ]; then
  say "installing trunk $TRUNK_VERSION (takes ~11 minutes on 2 cores)"
  cargo install trunk --version "$TRUNK_VERSION" --locked --force
fi

if $want_wasm_opt && [ "$("$TOOLS/node_modules/.bin/wasm-opt" --version 2>/dev/null | cut -d' ' -f3)" != "$BINARYEN_VERSION" ]; then
  say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
  npm install --silent --no-save --prefix "$TOOLS" "binaryen@$BINARYEN_VERSION"
fi

# Lighthouse (for tests/browser/lighthouse.mjs, a measurement) in a folder of its own, so that
# installing it never prunes wasm-opt's.
if $want_lighthouse && [ ! -d "$PWD/target/lighthouse/node_modules/lighthouse" ]; then
  say "installing lighthouse $LIGHTHOUSE_VERSION"
  npm install --silent --no-save --prefix "$PWD/target/lighthouse" "lighthouse@$LIGHTHOUSE_VERSION"
fi

# TensorFlow.js (the benchmark's peer rows) in a folder of its own too: no test needs it.
if $want_tfjs && [ ! -d "$PWD/target/tfjs/node_modules/@tensorflow/tfjs-backend-webgpu" ]; then
  say "installing TensorFlow.js $TFJS_VERSION"
  npm install --silent --no-save --prefix "$PWD/target/tfjs" "@tensorflow/tfjs-core@$TFJS_VERSION" \
    "@tensorflow/tfjs-backend-wasm@$TFJS_VERSION" "@tensorflow/tfjs-backend-webgpu@$TFJS_VERSION"
fi

if $want_browser; then
  # The tests' Debian packages: chromium, and espeak-ng and flite, which the spoken-digit corpus
  # tests speak with (each skips, saying so, where its synthesiser is missing).
  missing=()
  [ -x /usr/lib/chromium/chromium ] || missing+=(chromium)
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v flite >/dev/null || missing+=(flite)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian ${missing[*]}"
    as_root apt-get update -qq
    as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    say "installing playwright-core"
    (cd tests/browser && npm ci --silent)
  fi
fi
