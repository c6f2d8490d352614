#!/usr/bin/env python3
"""PyTorch CPU reference timings for Woofcam's explainers.

torchvision ResNet-34 (formula weights, eval), one 1x3x224x224 input,
torch.set_num_threads(2). Times (ms, median of N after 2 warm-up runs):
  forward_ms          model(x) under torch.no_grad()
  gradcam_ms          pytorch-grad-cam GradCAM(target_layers=[layer4]) call (forward+backward+cam+resize)
  guided_backprop_ms  captum GuidedBackprop.attribute
  guided_gradcam_ms   captum GuidedGradCam(layer4).attribute (interpolate_mode="bilinear")
The target is the argmax class, fixed in advance, for all three explainers.

    python bench_torch.py [-n 10] [--frozen]

--frozen sets requires_grad=False on all parameters (no weight gradients are
computed; pgc then gets an input that requires grad so its hooks still fire).
By default parameters require grad, as in the libraries' README examples.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore")

from formula_weights import fill_state_dict  # noqa: E402
from models import torchvision_resnet34  # noqa: E402


def bench(fn, n, warmup=2):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10, help="timed runs per method (median reported)")
    ap.add_argument("--frozen", action="store_true", help="parameters do not require grad")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = torchvision_resnet34(1000)
    fill_state_dict(model)
    model.eval()
    if args.frozen:
        model.requires_grad_(False)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        target = int(model(x).argmax())

    from captum.attr import GuidedBackprop, GuidedGradCam
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    def fwd():
        with torch.no_grad():
            model(x)

    forward_ms = bench(fwd, args.n)

    x_pgc = x.clone().requires_grad_(True) if args.frozen else x
    with GradCAM(model=model, target_layers=[model.layer4]) as cam:
        targets = [ClassifierOutputTarget(target)]

        def gc():
            cam(input_tensor=x_pgc, targets=targets)
            model.zero_grad(set_to_none=True)

        gradcam_ms = bench(gc, args.n)

    gbp = GuidedBackprop(model)

    def gb():
        gbp.attribute(x, target=target)
        model.zero_grad(set_to_none=True)

    guided_backprop_ms = bench(gb, args.n)

    ggcam = GuidedGradCam(model, model.layer4)

    def ggc():
        ggcam.attribute(x, target=target, interpolate_mode="bilinear")
        model.zero_grad(set_to_none=True)

    guided_gradcam_ms = bench(ggc, args.n)

    print(json.dumps({
        "gradcam_ms": round(gradcam_ms, 2),
        "guided_backprop_ms": round(guided_backprop_ms, 2),
        "guided_gradcam_ms": round(guided_gradcam_ms, 2),
        "forward_ms": round(forward_ms, 2),
        "n": args.n,
        "threads": torch.get_num_threads(),
        "params_require_grad": not args.frozen,
        "torch": torch.__version__,
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    main()
