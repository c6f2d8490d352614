# Woofcam's recipes. `./x RECIPE` installs `just` first if needed.
set shell := ["bash", "-euo", "pipefail", "-c"]

# Imagewoof, for the tests and the sample: $WOOFCAM_DATA, or in shared/ beside the repository.
data := env_var_or_default("WOOFCAM_DATA", "../shared/data/imagewoof2-160")

default:
    @just --list

# Install system packages the builds need (wasm toolchain); idempotent.
setup:
    scripts/setup.sh

# Every test: unit, golden (vs PyTorch fixtures) and end-to-end tests, the site build, and the browser tests.
test: setup
    #!/usr/bin/env bash
    set -euo pipefail
    log="$(mktemp)"
    wasm_log="$(mktemp)"
    # The viewer's wasm (`wasm-release` profile, its own target dir) shares nothing with the native tests
    # but the CPU, and each build has long one-core stretches (linking, LTO, the last big
    # crates) that the other fills: compile it beside them. test-web then finds it built.
    setsid bash -c 'scripts/setup-web.sh && scripts/site.sh --wasm-only' > "$wasm_log" 2>&1 &
    wasm=$!
    trap 'kill -- -"$wasm" 2>/dev/null || true' EXIT
    # One build for every native test, the GPU code path's included: the golden comparison
    # with PyTorch and a short training run (whose model the CPU backend then evaluates) also
    # run on Burn's wgpu backend, on lavapipe, built as the GPU trainer is (kernel fusion)
    # less autotuning. A second cargo invocation with other features would compile Burn again.
    features="--features woofcam-trainer/wgpu-untuned"
    # Every test binary runs even when one fails, and the browser tests run even when a cargo
    # test failed: the closing line then counts every test, and the run fails at the end.
    failed=()
    cargo test --workspace --no-fail-fast $features 2>&1 | tee "$log" || failed+=("cargo test")
    echo "waiting for the wasm build (its output follows)"
    status=0
    wait "$wasm" || status=$?
    trap - EXIT
    cat "$wasm_log"
    [ "$status" -eq 0 ] || { echo "the wasm build failed" >&2; exit "$status"; }
    just test-web 2>&1 | tee -a "$log" || failed+=("the browser tests")
    # One closing line for the whole run (cargo prints one per test binary).
    sum() { grep -Eo "[0-9]+ $1" "$log" | awk '{ n += $1 } END { print n + 0 }'; }
    echo "$(sum passed) passed, $(sum failed) failed, $(sum ignored) ignored"
    [ "${#failed[@]}" -eq 0 ] || { echo "failed: ${failed[*]}" >&2; exit 1; }

# The core crate and the viewer's main (WebGPU) build compile for wasm32 (a quick check
# while editing; `test` gets both builds from the site build).
wasm-check: setup
    scripts/wasm.sh check -p woofcam -p woofcam-viewer --features woofcam-viewer/webgpu

# The model the site serves (`NAME.bpk` with `NAME.json` beside it): the default model,
# trained on Imagewoof (models/MODEL_CARD.md).
site_model := "models/imagewoof-resnet34.bpk"

# Build the static site into target/site: viewer wasm (`wasm-release` profile), pages, model; prints wasm sizes.
site: setup setup-web
    scripts/site.sh "{{site_model}}"

# Serve the built site on http://127.0.0.1:PORT/ (works offline after the first visit).
serve port="8000": site
    node web/server.js target/site {{port}}

# Browser tests: the built site in headless Chromium (screenshots in target/e2e/).
test-web: site
    #!/usr/bin/env bash
    set -euo pipefail
    log="$(mktemp)"
    status=0
    (cd web && node --test --test-concurrency=1 --test-reporter=spec tests/*.test.js) 2>&1 | tee "$log" || status=$?
    # In cargo's words, so that `just test`'s closing line counts these too.
    echo "browser tests: $(grep -Po '^ℹ pass \K\d+' "$log") passed; $(grep -Po '^ℹ fail \K\d+' "$log") failed"
    exit "$status"

# What the site build and browser tests need: Chromium, wasm-bindgen CLI, npm packages.
setup-web:
    scripts/setup-web.sh

# The main job: build the site and serve it with the default model on http://127.0.0.1:PORT/.
demo port="8000": (serve port)
    @true

# Explain a sample photo with the native tool (PNGs and the top-5 in out/).
explain-sample photo=(data / "val/n02111889/ILSVRC2012_val_00000590.JPEG"): setup
    cargo run -q --release -p woofcam-trainer -- explain "{{photo}}" --weights "{{site_model}}" --out out
    @echo "PNGs are in out/"

# Our three explainers vs PyTorch (pytorch-grad-cam, captum) on this machine, same run.
bench-explain: reference-env
    .venv-reference/bin/python tests/reference/bench_explain.py

# The viewer in the browser (BACKEND: cpu or webgpu) vs the same job natively, same run:
# load, first and warm times per method, and browser / native for each. The CPU runs both
# of its builds: the threaded one (an isolated page, as `serve` gives) and the one-thread one.
bench-viewer backend="cpu": site
    mkdir -p target/bench
    cargo bench -q -p woofcam-viewer --bench session -- "$PWD/target/site" > target/bench/viewer-native.json
    cd web && node bench.js --backend {{backend}} --native ../target/bench/viewer-native.json
    {{ if backend == "cpu" { "cd web && node bench.js --backend cpu --one-thread --native ../target/bench/viewer-native.json" } else { "" } }}

# Regenerate the golden fixtures with PyTorch (needs PyPI; CI never runs this).
golden: reference-env
    .venv-reference/bin/python tests/reference/make_golden.py

# Regenerate tests/fixtures/torch (fastai / torchvision checkpoints for `woofcam import`,
# and PyTorch loading `woofcam export --format safetensors`); builds and runs the trainer.
torch-fixtures: reference-env
    .venv-reference/bin/python tests/reference/torch_roundtrip.py

# The PyTorch reference environment (torch, torchvision, captum, grad-cam).
reference-env:
    test -x .venv-reference/bin/python || python3 -m venv .venv-reference
    .venv-reference/bin/pip install --quiet -r tests/reference/requirements.txt

# Training steps of ResNet34 on the CPU (batch 32, 128 and 224 px) vs PyTorch, same run.
bench-train: reference-env
    .venv-reference/bin/python tests/reference/bench_train.py
