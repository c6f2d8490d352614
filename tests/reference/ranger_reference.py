#!/usr/bin/env python3
"""Write the reference update sequence of fastai's `ranger` optimiser (RAdam + Lookahead)
that `crates/trainer/src/ranger.rs` is tested against.

    python ranger_reference.py [--out PATH]

PATH defaults to <repo>/tests/fixtures/ranger/ranger_steps.json.

Generated with fastai 2.8.12 (`pip install fastai`; torch as in requirements.txt).
fastai's own `ranger` does the updates: nothing here re-implements the optimiser.

Two parameters (a weight [3, 4] and a bias [4], float32, fixed formula values) take
15 steps with fixed gradients (a sine formula, stored in the fixture too so the Rust side
reads exactly the float32 values fastai saw). Two runs:

- `constant`: `ranger(params, lr=1e-2)` with every default
  (mom=0.95, sqr_mom=0.99, eps=1e-6, wd=0.01, beta=0, k=6, alpha=0.5);
- `schedule`: wd=0.1 and a learning rate that changes every step (set through
  `opt.set_hyper('lr', ..)`, which is how fastai's schedulers drive it).

With sqr_mom=0.99, RAdam's rectification term r is <= 5 for steps 1-5 (plain
momentum-SGD branch) and > 5 from step 6 (rectified branch); each step's r is recorded.
Lookahead syncs its slow weights after steps 6 and 12.
Deterministic: the output is identical on every run.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch
from fastai.optimizer import ranger

STEPS = 15
SHAPES = {"weight": [3, 4], "bias": [4]}


def initial(name: str, shape: list[int]) -> torch.Tensor:
    n = math.prod(shape)
    offset = 0.0 if name == "weight" else 0.37
    values = [0.5 * math.cos(0.7 * i + offset) + 0.1 for i in range(n)]
    return torch.tensor(values, dtype=torch.float32).reshape(shape)


def gradient(name: str, shape: list[int], step: int) -> torch.Tensor:
    """Gradient of parameter `name` at `step` (1-based)."""
    n = math.prod(shape)
    offset = 0.0 if name == "weight" else 0.5
    values = [math.sin(1.3 * step + 0.9 * i + offset) * (1.0 + 0.1 * i) for i in range(n)]
    return torch.tensor(values, dtype=torch.float32).reshape(shape)


def schedule_lr(step: int) -> float:
    """A warm-up then decay learning rate for step `step` (1-based)."""
    return 1e-2 * min(step / 4, 1.0) * (0.9 ** max(step - 4, 0))


def rectification(step: int, sqr_mom: float = 0.99) -> float:
    """fastai radam_step's r for `step`; rectified when r > 5."""
    r_inf = 2 / (1 - sqr_mom) - 1
    return r_inf - 2 * step * sqr_mom**step / (1 - sqr_mom**step)


def flat(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def run(lrs: list[float], wd: float | None) -> dict:
    params = {name: torch.nn.Parameter(initial(name, shape)) for name, shape in SHAPES.items()}
    kwargs = {} if wd is None else {"wd": wd}
    opt = ranger(list(params.values()), lr=lrs[0], **kwargs)
    steps = []
    for step in range(1, STEPS + 1):
        opt.set_hyper("lr", lrs[step - 1])
        grads = {}
        for name, p in params.items():
            g = gradient(name, SHAPES[name], step)
            p.grad = g.clone()
            grads[name] = flat(g)
        opt.step()
        steps.append(
            {
                "step": step,
                "lr": lrs[step - 1],
                "r": rectification(step),
                "rectified": rectification(step) > 5,
                "lookahead_sync": step % 6 == 0,
                "grads": grads,
                "params": {name: flat(p) for name, p in params.items()},
            }
        )
    hyper = opt.hypers[0]
    return {
        "hypers": {
            "mom": hyper["mom"],
            "sqr_mom": hyper["sqr_mom"],
            "eps": hyper["eps"],
            "wd": hyper["wd"],
            "beta": hyper["beta"],
            "k": opt.k,
            "alpha": opt.alpha,
        },
        "initial": {name: flat(initial(name, shape)) for name, shape in SHAPES.items()},
        "steps": steps,
    }


def main() -> None:
    repo = Path(__file__).resolve().parents[2]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=repo / "tests/fixtures/ranger/ranger_steps.json")
    args = parser.parse_args()

    torch.set_num_threads(1)
    fixture = {
        "generator": "tests/reference/ranger_reference.py",
        "fastai": __import__("fastai").__version__,
        "torch": torch.__version__,
        "shapes": SHAPES,
        "runs": {
            "constant": run([1e-2] * STEPS, None),
            "schedule": run([schedule_lr(s) for s in range(1, STEPS + 1)], 0.1),
        },
    }
    for name, r in fixture["runs"].items():
        rect = [s["step"] for s in r["steps"] if s["rectified"]]
        assert rect and rect[0] > 1, f"{name}: need both regimes, rectified at {rect}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
