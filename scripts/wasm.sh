#!/usr/bin/env bash
# cargo for wasm32-unknown-unknown: `scripts/wasm.sh check -p woofcam-viewer`.
# Uses rustup's wasm32 target when installed (a normal developer machine); otherwise
# Debian's rustc-web 1.96 builds the standard library for wasm32 itself.
#
# WASM_THREADS=1 builds for wasm threads (atomics and shared memory, for the viewer's
# `threads` feature) in its own target dir: the standard library is then always rebuilt
# with atomics (build-std; rustup's toolchain needs its rust-src component for that).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
build_std=()
if [ "${WASM_THREADS:-0}" = 1 ]; then
    export CARGO_TARGET_DIR="$target_dir/wasm-threads"
    export RUSTC_BOOTSTRAP=1
    build_std=(-Zbuild-std=std,panic_abort)
else
    export CARGO_TARGET_DIR="$target_dir/wasm"
fi
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    exec cargo "$@" --target wasm32-unknown-unknown "${build_std[@]}"
fi
export PATH="/usr/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-19/bin/wasm-ld
exec /usr/bin/cargo "$@" --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort
