#!/usr/bin/env python3
"""Woofcam's training throughput vs PyTorch on this machine, in one run.

Runs the Rust benchmark (`cargo bench -p woofcam-trainer --bench train_step`: Burn's flex
CPU backend, ResNet34 with fastai's head, batch 32, Ranger) and the same job in PyTorch
(torchvision resnet34 body + fastai's head, batch 32, train mode, cross entropy,
backward, AdamW step; torch.set_num_threads = the machine's cores), one after the other,
and prints images/s and the ratio per input size.

Target: at least 0.8x PyTorch's images/s on CPU.

    python tests/reference/bench_train.py [SIZE ...]     (default 128 224)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BATCH = 32
STEPS = int(os.environ.get("BENCH_STEPS", "4"))


def torch_images_per_s(size: int) -> float:
    import torch
    import torch.nn as nn
    import torchvision

    torch.set_num_threads(os.cpu_count() or 2)
    torch.manual_seed(0)
    body = nn.Sequential(*list(torchvision.models.resnet34().children())[:-2])
    # fastai's cnn_learner head: concat pool, BN, dropout, linear (no bias), ReLU, BN, dropout, linear.
    class ConcatPool(nn.Module):
        def forward(self, x):
            return torch.cat([nn.functional.adaptive_max_pool2d(x, 1), nn.functional.adaptive_avg_pool2d(x, 1)], 1)

    head = nn.Sequential(ConcatPool(), nn.Flatten(), nn.BatchNorm1d(1024), nn.Dropout(0.25), nn.Linear(1024, 512, bias=False),
                         nn.ReLU(inplace=True), nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, 10, bias=False))
    model = nn.Sequential(body, head).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(BATCH, 3, size, size)
    y = torch.arange(BATCH) % 10
    total = 0.0
    for i in range(STEPS + 1):  # one warm-up step
        start = time.perf_counter()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i > 0:
            total += time.perf_counter() - start
    return STEPS * BATCH / total


def main() -> None:
    sizes = [int(s) for s in sys.argv[1:]] or [128, 224]
    rust = subprocess.run(
        ["cargo", "bench", "-q", "-p", "woofcam-trainer", "--bench", "train_step", "--", *map(str, sizes)],
        cwd=ROOT, check=True, capture_output=True, text=True, env={**os.environ, "BENCH_STEPS": str(STEPS)},
    )
    ours = {row["size"]: row for row in (json.loads(l) for l in rust.stdout.splitlines() if l.startswith("{"))}
    first = next(iter(ours.values()))
    print(f"CPU: {first['cpu']}; our GEMM kernels: {first['gemm_kernels']}")
    print(f"{'size':>5} {'ours img/s':>11} {'PyTorch img/s':>14} {'ratio':>6}   our step (forward / backward / optimiser ms)")
    for size in sizes:
        theirs = torch_images_per_s(size)
        row = ours[size]
        ratio = row["images_per_s"] / theirs
        print(f"{size:5} {row['images_per_s']:11.2f} {theirs:14.2f} {ratio:6.2f}   "
              f"{row['forward_ms']} / {row['backward_ms']} / {row['optimizer_ms']}")
    print("\ntarget: ratio >= 0.8")


if __name__ == "__main__":
    main()
