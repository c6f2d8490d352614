#!/usr/bin/env bash
# Runs on a remote GPU machine, from the repository root, on the parts that scripts/gpu/pack.py
# made (see scripts/gpu/README.md for the sequence of commands). What a command writes under
# $OUT comes back from the machine.
#
#   remote.sh unpack .gpu/pN    extract a part into /tmp/woofcam (part 1 also installs the
#                               Vulkan loader, which the machine's image lacks)
#   remote.sh smoke             train a few batches on the GPU for at most 45 s: the binary,
#                               the driver and the teacher work before the real run starts
#   remote.sh train SECONDS ARGS...
#                               `woofcam train --device wgpu ARGS`, stopped after SECONDS at
#                               most (the run keeps its best epoch either way), then the best
#                               checkpoint cut into 15 MiB pieces for $OUT
#   remote.sh ship FIRST COUNT  copy pieces FIRST.. of the checkpoint into $OUT (the machine sends
#                               back 64 MiB per command, the f32 checkpoint is about 83 MiB)
#   remote.sh viewer-bench PART [RUNS]
#                               after part 1: unpack the viewer's part (pack_viewer.py), make an
#                               untrained 224 px model and time the viewer's wasm on the GPU
#                               through Dawn (web/bench-dawn.js, RUNS warm runs, default 20);
#                               its JSON line goes to $OUT/viewer-bench.json too
set -euo pipefail
W=/tmp/woofcam
# The NVIDIA driver's Vulkan ICD is mounted into the machine but not registered.
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json

case "${1:-}" in
unpack)
    part="$2"
    mkdir -p "$W"
    if [ -f "$part/trainer.gz" ]; then
        for deb in "$part"/*.deb; do dpkg -x "$deb" /; done
        ldconfig
        gunzip -c "$part/trainer.gz" > "$W/trainer"
        chmod +x "$W/trainer"
    fi
    for t in "$part"/*.tar; do tar -xf "$t" -C "$W"; done
    echo "unpacked $part: $(find "$W/data" -type f | wc -l) photos so far"
    ;;
smoke)
    rm -rf "$W/smoke" "$W/smoke-run"
    for class in "$W"/data/train/*/; do
        name="$(basename "$class")"
        mkdir -p "$W/smoke/train/$name" "$W/smoke/val/$name"
        find "$class" -type f | sort | sed -n 1,8p | xargs -I{} ln -s {} "$W/smoke/train/$name/"
        find "$class" -type f | sort | sed -n 9,10p | xargs -I{} ln -s {} "$W/smoke/val/$name/"
    done
    status=0
    timeout 45 "$W/trainer" train --data "$W/smoke" --out "$W/smoke-run" --resize 80 --size 64 \
        --batch-size 8 --epochs 1 --teacher "$W"/teacher/* --device wgpu || status=$?
    case "$status" in
    0) echo "smoke: a whole epoch ran on the GPU" ;;
    124) echo "smoke: still training after 45 s, stopped (the driver and the binary work)" ;;
    *) echo "smoke: FAILED ($status)"; exit "$status" ;;
    esac
    ;;
train)
    seconds="$2"
    shift 2
    status=0
    timeout "$seconds" "$W/trainer" train --data "$W/data" --out "$W/run" --teacher "$W"/teacher/* \
        --device wgpu "$@" 2>&1 | tee "$OUT/train.log" || status=$?
    echo "trainer exit status: $status (124: stopped at the time limit)"
    cp "$W/run/run.json" "$W/run/best.json" "$OUT/"
    rm -rf "$W/ship"
    mkdir -p "$W/ship"
    split -b 15M -d "$W/run/best.bpk" "$W/ship/best.bpk."
    sha256sum "$W/run/best.bpk" | tee "$OUT/best.bpk.sha256"
    ls -l "$W/ship"
    ;;
ship)
    # sed rather than head: head stops reading early, and under pipefail the writer's
    # SIGPIPE would end the script silently.
    find "$W/ship" -type f | sort | sed -n "$(($2 + 1)),$(($2 + $3))p" | xargs -I{} cp {} "$OUT/"
    ls -l "$OUT"
    ;;
viewer-bench)
    part="$2"
    [ -x "$W/trainer" ] || { echo "viewer-bench: unpack part 1 first (the trainer and the Vulkan loader)"; exit 1; }
    gunzip -c "$part/node.gz" > "$W/node"
    chmod +x "$W/node"
    tar -xzf "$part/viewer.tar.gz" -C "$W"
    "$W/trainer" init --out "$W/site/model/model.bpk" --size 224
    "$W/node" web/bench-dawn.js --backend webgpu --runs "${3:-20}" --site "$W/site" --dawn "$W/dawn" |
        tee "$OUT/viewer-bench.json"
    ;;
*)
    sed -n 2,25p "$0"
    exit 2
    ;;
esac
