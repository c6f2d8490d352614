#!/usr/bin/env bash
# Builds the static site into target/site (or $SITE_DIR): the viewer's wasm in release,
# wasm-bindgen, wasm-opt, the pages in www/, and the model. Prints the wasm's sizes.
#
#   scripts/site.sh MODEL.bpk          # MODEL.json must sit beside it
#   scripts/site.sh --wasm-only        # only compile the wasm (`just test` does this early)
#
# The wasm is built with the `wasm-release` profile (see Cargo.toml) to keep it within its
# 3 MB gzip budget.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:?usage: scripts/site.sh MODEL.bpk | --wasm-only}"
metadata="${model%.*}.json"
site="${SITE_DIR:-target/site}"
if [ "$model" != --wasm-only ]; then
    for f in "$model" "$metadata"; do
        [ -f "$f" ] || { echo "site: $f not found" >&2; exit 1; }
    done
fi

# Wasm SIMD (every current browser has it) lets flex's GEMM use 128-bit vectors. The -Z
# flags drop panic locations (file paths and line numbers, which only a debugger reads)
# and reduce derived `Debug` output to type names (messages the page shows use `Display`).
# With fat LTO they took the wasm from 18.1 to 17.5 MB raw (3.51 to 3.30 MB gzip); the
# profile's codegen units and opt-levels did the rest. They need RUSTC_BOOTSTRAP on a
# stable toolchain too (Debian's path sets it anyway).
export RUSTC_BOOTSTRAP=1
flags="-C target-feature=+simd128 -Zlocation-detail=none -Zfmt-debug=shallow"
# Two builds (see crates/viewer/Cargo.toml): WebGPU with a one-thread CPU fallback, and the
# CPU on a pool of Web Workers, which the page loads when it is cross-origin isolated and
# has no WebGPU. The threaded one links an imported, shared memory (which wasm-bindgen's
# thread support recognises; rustc 1.96 no longer asks wasm-ld for it by itself) with the
# thread-local storage exports wasm-bindgen needs to start each thread. Shared memory must
# declare its maximum: 4 GiB, what an unshared one may grow to.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags" \
    scripts/wasm.sh build --profile wasm-release -p woofcam-viewer --features webgpu
threads="-C target-feature=+atomics,+bulk-memory,+mutable-globals"
for arg in --shared-memory --import-memory --max-memory=4294967296 \
    --export=__wasm_init_tls --export=__tls_size --export=__tls_align --export=__tls_base; do
    threads+=" -C link-arg=$arg"
done
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$flags $threads" \
    WASM_THREADS=1 scripts/wasm.sh build --profile wasm-release -p woofcam-viewer --features threads
[ "$model" != --wasm-only ] || exit 0
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"

# The bindings generator must be exactly the wasm-bindgen crate's version.
want="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')"
[ "$have" = "$want" ] || { echo "site: need wasm-bindgen-cli $want (have ${have:-none}); run scripts/setup-web.sh" >&2; exit 1; }

rm -rf "$site"
mkdir -p "$site/model"
# pkg/: the main build; pkg-threads/: the threaded one.
for build in wasm:pkg wasm-threads:pkg-threads; do
    dir="$site/${build#*:}"
    wasm-bindgen --target web --no-typescript --out-dir "$dir" \
        "$target_dir/${build%%:*}/wasm32-unknown-unknown/wasm-release/woofcam_viewer.wasm"
    # npm's binaryen: Debian's (108) writes modules that browsers reject.
    # By default wasm-opt only strips names and debug info: measured here, its -O3 took 14 minutes
    # (npm's wasm-opt runs as JavaScript) and left the gzip size 0.1 MB *larger* (4.93 vs 4.81 MB).
    # WASM_OPT_FLAGS=-O3 opts in.
    web/node_modules/.bin/wasm-opt ${WASM_OPT_FLAGS:-} --strip-debug --strip-producers \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-reference-types \
        --enable-multivalue --enable-sign-ext --enable-mutable-globals --enable-simd --enable-threads \
        "$dir/woofcam_viewer_bg.wasm" -o "$dir/woofcam_viewer_bg.wasm"
done

cp -r www/. "$site/"
cp "$model" "$site/model/model.bpk"
cp "$metadata" "$site/model/model.json"
# A new build must not be served from an old offline cache: key the cache by content.
version="$(cd "$site" && find . -type f ! -name sw.js -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
sed -i "s/^const VERSION = 'dev';/const VERSION = '$version';/" "$site/sw.js"

# The service worker stores the threaded build with the shell: its file names (a snippet's
# folder carries a hash) are only known now.
threaded="$(cd "$site" && find pkg-threads -type f | sort | sed 's/.*/"&"/' | paste -sd,)"
sed -i "s|^const THREADED = \[\];|const THREADED = [$threaded];|" "$site/sw.js"

for pkg in pkg pkg-threads; do
    bytes="$(stat -c %s "$site/$pkg/woofcam_viewer_bg.wasm")"
    gz="$(gzip -9c "$site/$pkg/woofcam_viewer_bg.wasm" | wc -c)"
    awk -v site="$site/$pkg" -v raw="$bytes" -v gz="$gz" -v budget=3000000 'BEGIN {
        printf "site: %s; wasm %.2f MB raw, %.2f MB gzip (budget %.1f MB gzip)%s\n",
            site, raw / 1e6, gz / 1e6, budget / 1e6, (gz > budget ? ": OVER BUDGET" : "")
    }'
done
