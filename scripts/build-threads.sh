#!/bin/sh
# Trunk build hook: kiln-web-threads (crates/kiln-web-threads), the CPU module the worker moves to
# from kiln-web, behind the first digits, when the page is cross-origin isolated, written beside
# the others.
#
# Shared wasm memory needs a standard library rebuilt with atomics (`-Z build-std`), which cargo
# offers only to nightly compilers. RUSTC_BOOTSTRAP=1 lets the pinned toolchain do it from its
# rust-src component (scripts/setup.sh adds it), so the build needs no second toolchain and
# compiles with the same rustc as every other module. Its own target dir, because these flags
# differ from the other modules' and would otherwise rebuild their dependencies every time.
set -eu
dir="${TRUNK_STAGING_DIR:?this runs as a Trunk hook}"
case "${TRUNK_PROFILE:-debug}" in
  release) profile=wasm-threads ;;
  *) profile=wasm-dev ;;
esac
target="${CARGO_TARGET_DIR:-target}/threads"
# One memory shared by every thread: imported (the glue creates it shared, and hands it to each
# worker), up to 4 GiB as the one-thread module may grow to, with thread-local storage set up
# per thread by wasm-bindgen.
link="--shared-memory --import-memory --max-memory=4294967296"
link="$link --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base"
flags="-C target-feature=+atomics,+bulk-memory,+mutable-globals,+simd128"
for arg in $link; do flags="$flags -C link-arg=$arg"; done
RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" \
  cargo build -p kiln-web-threads --lib --target wasm32-unknown-unknown --profile "$profile" --locked \
  --target-dir "$target" -Z build-std=panic_abort,std
# Named like Trunk names the other modules: kiln-web-threads.js, kiln-web-threads_bg.wasm.
wasm-bindgen --target web --no-typescript --out-dir "$dir" --out-name kiln-web-threads \
  "$target/wasm32-unknown-unknown/$profile/kiln_web_threads.wasm"
if [ "$profile" = wasm-threads ]; then
  wasm-opt -Oz "$dir/kiln-web-threads_bg.wasm" -o "$dir/kiln-web-threads_bg.wasm"
fi
