#!/usr/bin/env bash
# Installs what the site build and the browser tests need, on top of scripts/setup.sh:
# Chromium (Debian's; tests never download a browser), Node.js, the wasm-bindgen CLI of
# exactly the version in Cargo.lock, and web/'s npm packages (wasm-opt, playwright-core).
# Idempotent: does nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
command -v chromium >/dev/null || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
    echo "setup-web: installing ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

want="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    echo "setup-web: installing wasm-bindgen-cli $want (a few minutes)" >&2
    # Not --locked: the CLI's own lock file pins a crate version the registry no longer serves.
    cargo install --quiet wasm-bindgen-cli --version "$want"
fi

# npm ci only when the lock file changed since the last install.
if ! cmp -s web/package-lock.json web/node_modules/.installed-lock.json; then
    echo "setup-web: npm ci in web/" >&2
    (cd web && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.installed-lock.json)
fi
