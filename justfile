# Woofcam's recipes. `./x RECIPE` installs `just` first if needed.
set shell := ["bash", "-euo", "pipefail", "-c"]

default:
    @just --list

# Install system packages the builds need (wasm toolchain); idempotent.
setup:
    scripts/setup.sh

# Every test: unit, golden (vs PyTorch fixtures) and end-to-end tests, and the wasm build.
test: setup
    #!/usr/bin/env bash
    set -euo pipefail
    log="$(mktemp)"
    cargo test --workspace 2>&1 | tee "$log"
    just wasm-check
    # One closing line for the whole run (cargo prints one per test binary).
    sum() { grep -Eo "[0-9]+ $1" "$log" | awk '{ n += $1 } END { print n + 0 }'; }
    echo "$(sum passed) passed, $(sum failed) failed"

# The core crate and the viewer compile for wasm32.
wasm-check: setup
    scripts/wasm.sh check -p woofcam -p woofcam-viewer

# The main job, for now: explain a sample photo with the native tool (PNGs in out/).
demo photo="../shared/data/imagewoof2-160/val/n02111889/ILSVRC2012_val_00000590.JPEG": setup
    cargo build --release -p woofcam-trainer
    target/release/trainer init --out out/untrained.bpk
    target/release/trainer explain "{{photo}}" --weights out/untrained.bpk --out out
    @echo "PNGs are in out/ (the network is untrained until the default model lands)"

# Our three explainers vs PyTorch (pytorch-grad-cam, captum) on this machine, same run.
bench-explain: reference-env
    .venv-reference/bin/python tests/reference/bench_explain.py

# Regenerate the golden fixtures with PyTorch (needs PyPI; CI never runs this).
golden: reference-env
    .venv-reference/bin/python tests/reference/make_golden.py

# The PyTorch reference environment (torch, torchvision, captum, grad-cam).
reference-env:
    test -x .venv-reference/bin/python || python3 -m venv .venv-reference
    .venv-reference/bin/pip install --quiet -r tests/reference/requirements.txt
