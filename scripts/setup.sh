#!/usr/bin/env bash
# Installs what a fresh Debian machine with rustup lacks for Woofcam's builds and tests.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

missing=()
# wasm32: rustup's target where it is installed; otherwise Debian's Rust with the
# standard library's source, which builds std for wasm32 itself (see scripts/wasm.sh).
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    for pkg in rustc-web cargo-web rust-web-src lld-19; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
elif ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
    # The viewer's threaded build rebuilds std with atomics from its source.
    rustup component add rust-src
fi
# Vulkan on the CPU (Mesa's lavapipe): the tests run the network on Burn's wgpu backend too.
dpkg-query -W -f='${Status}' mesa-vulkan-drivers 2>/dev/null | grep -q "ok installed" || missing+=(mesa-vulkan-drivers)

if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
