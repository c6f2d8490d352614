#!/usr/bin/env bash
# cargo for wasm32-unknown-unknown: `scripts/wasm.sh check -p woofcam-viewer`.
# Uses rustup's wasm32 target when installed (a normal developer machine); otherwise
# Debian's rustc-web 1.96 builds the standard library for wasm32 itself.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/wasm"
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    exec cargo "$@" --target wasm32-unknown-unknown
fi
export PATH="/usr/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=/usr/lib/llvm-19/bin/wasm-ld
exec /usr/bin/cargo "$@" --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort
