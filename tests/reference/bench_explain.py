#!/usr/bin/env python3
"""Woofcam's explainers vs PyTorch on this machine, in one run.

Runs the Rust benchmark (`cargo bench -p woofcam --bench explain`: Burn's flex CPU
backend, torchvision-layout ResNet34, one 224x224 input) and `bench_torch.py`
(torchvision resnet34 + pytorch-grad-cam + captum, 2 threads), one after the other so
neither disturbs the other, and prints both and their ratios.

Target: all three of our methods together in no more time than PyTorch's
Grad-CAM alone, i.e. ratio `all_three / pytorch gradcam` <= 1.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def last_json_line(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def main() -> None:
    rust = subprocess.run(
        ["cargo", "bench", "-q", "-p", "woofcam", "--bench", "explain"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    ours = last_json_line(rust.stdout)
    torch = {}
    for variant, extra in [("default", []), ("frozen", ["--frozen"])]:
        run = subprocess.run([sys.executable, str(HERE / "bench_torch.py"), *extra],
                             check=True, capture_output=True, text=True)
        torch[variant] = last_json_line(run.stdout)

    print(f"CPU: {ours['cpu']}; our GEMM kernels: {ours['gemm_kernels']}")
    print("Woofcam (Burn flex, ms, median):", json.dumps(ours))
    for variant, t in torch.items():
        print(f"PyTorch {variant} (ms, median):", json.dumps(t))
    print()
    print(f"{'':32} {'ours':>8} {'PyTorch':>8} {'ratio':>6}")
    t = torch["default"]
    rows = [
        ("predict (forward)", ours["predict_ms"], t["forward_ms"]),
        ("Grad-CAM", ours["gradcam_ms"], t["gradcam_ms"]),
        ("Guided Backprop", ours["guided_backprop_ms"], t["guided_backprop_ms"]),
        ("all three vs PyTorch Grad-CAM", ours["all_three_ms"], t["gradcam_ms"]),
        ("all three vs PyTorch GC (frozen)", ours["all_three_ms"], torch["frozen"]["gradcam_ms"]),
    ]
    for name, a, b in rows:
        print(f"{name:32} {a:8.1f} {b:8.1f} {a / b:6.2f}")
    ratio = ours["all_three_ms"] / t["gradcam_ms"]
    print(f"\ntarget all_three <= PyTorch Grad-CAM: {'met' if ratio <= 1 else 'NOT met'} (ratio {ratio:.2f})")


if __name__ == "__main__":
    main()
