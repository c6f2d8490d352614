"""Fixtures for Woofcam's PyTorch interchange: `woofcam import` of checkpoints PyTorch
wrote, and `woofcam export --format safetensors` loaded back into PyTorch.

Writes tests/fixtures/torch/:

  fastai_resnet34.pth       fastai's own `Learner.save` of `create_vision_model(resnet34, 10)`
                            with an optimiser: {'model': state_dict, 'opt': opt.state_dict()}
  torchvision_resnet34.pth  `torch.save(resnet34(num_classes=10).state_dict())`, float16
  expected.json             reference logits for a fixed input, the state-dict keys, shapes
                            and dtypes a strict `load_state_dict` expects, and the result of
                            loading Woofcam's safetensors export of each model in PyTorch

Size. A ResNet34 state dict is 85 MB, far too big to commit. `torch.save` writes each
*storage* once, however many tensors view it, so every parameter here is a strided view
(`as_strided`) into one small storage per parameter kind: 14 storages of at most ~50k
values, filled by formula (formula_weights.py: the same (offset, scale) per kind as the
golden fixtures, so the network stays well scaled). The strides (61, 53, 3, 1) for
convolutions and (13, 17) for linear layers make neighbouring filters and rows different
stretches of the storage; logits come out in the same range as with fully independent
formula weights. The files are real PyTorch checkpoints (zip container, pickled strided
tensors); the Rust reader has to gather the views, which is part of what is tested.
The torchvision file is float16, as half-precision checkpoints are, which also tests
widening on import; its reference logits are computed with those float16 values.

The input is a formula both sides compute exactly: element i (row-major over
[2, 3, 64, 64]) is float32(((i * 7919 + 13) % 2000) / 1000 - 1).

The export check needs the Rust trainer: this script runs
`cargo run -p woofcam-trainer -- import` then `export --format safetensors` on each
fixture, loads the result with `load_state_dict(strict=True)` into a fresh fastai /
torchvision model and records the largest logit difference from the reference.

Run from the repository root (about a minute after the trainer is built):

    /opt/woofref/bin/python tests/reference/torch_roundtrip.py [--out DIR] [--trainer PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision
from fastai.vision.all import CrossEntropyLossFlat, DataLoaders, Learner, resnet34
from fastai.vision.learner import create_vision_model
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from formula_weights import fnv1a64, formula_values, param_kind  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NUM_CLASSES = 10
INPUT_SHAPE = (2, 3, 64, 64)
CONV_STRIDES = (61, 53, 3, 1)
LINEAR_STRIDES = (13, 17)


def formula_input() -> torch.Tensor:
    i = np.arange(int(np.prod(INPUT_SHAPE)), dtype=np.int64)
    values = (((i * 7919 + 13) % 2000) / 1000.0 - 1.0).astype(np.float32)
    return torch.from_numpy(values.reshape(INPUT_SHAPE))


def strided_plan(model: torch.nn.Module):
    """{key: (kind, shape, strides, offset)} and the storage size each kind needs."""
    plan, need = {}, {}
    for key, t in model.state_dict().items():
        shape = tuple(t.shape)
        kind = param_kind(model, key, shape)
        if kind is None:  # num_batches_tracked
            continue
        if len(shape) == 4:
            strides = CONV_STRIDES if shape[2] > 1 else CONV_STRIDES[:2] + (1, 1)
        elif len(shape) == 2:
            strides = LINEAR_STRIDES
        else:
            strides = (1,)
        offset = fnv1a64(key) % 256
        extent = offset + sum((d - 1) * s for d, s in zip(shape, strides)) + 1
        need[kind] = max(need.get(kind, 0), extent)
        plan[key] = (kind, shape, strides, offset)
    return plan, need


def fill_strided(model: torch.nn.Module, dtype=torch.float32) -> None:
    """Make every parameter and buffer of `model` a view into its kind's shared storage."""
    plan, need = strided_plan(model)
    bases = {
        kind: torch.from_numpy(formula_values(f"woofcam-shared/{kind[0]}/{kind[1]}", (n,), *kind)).to(dtype)
        for kind, n in need.items()
    }
    state = model.state_dict(keep_vars=True)
    with torch.no_grad():
        for key, (kind, shape, strides, offset) in plan.items():
            state[key].data = bases[kind].as_strided(shape, strides, offset)


def state_dict_spec(model: torch.nn.Module) -> list:
    """What a strict load_state_dict expects, with safetensors dtype names."""
    names = {torch.float32: "F32", torch.int64: "I64"}
    return [[k, list(t.shape), names[t.dtype]] for k, t in sorted(model.state_dict().items())]


def logits_of(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x)


def make_fastai(out: Path, x: torch.Tensor) -> dict:
    """fastai's Learner.save of a vision model, with Adam's state for the stem."""
    torch.manual_seed(0)
    model = create_vision_model(resnet34, NUM_CLASSES, pretrained=False)
    spec = state_dict_spec(model)
    fill_strided(model)
    sample = [(torch.zeros(3, 64, 64), 0)]
    dls = DataLoaders.from_dsets(sample, sample, bs=1)
    with tempfile.TemporaryDirectory() as tmp:
        learn = Learner(dls, model, loss_func=CrossEntropyLossFlat(), path=tmp, model_dir=".")
        learn.create_opt()
        # A real `learn.save` after training carries Adam's moving averages for every
        # parameter (full size); keep one for the stem so the file has an `opt` with tensors.
        stem = model[0][0].weight
        learn.opt.state[stem] = {"grad_avg": torch.full_like(stem, 1e-3), "sqr_avg": torch.full_like(stem, 1e-6), "step": 3}
        saved = learn.save("fastai_resnet34", with_opt=True)
        shutil.copy(saved, out / "fastai_resnet34.pth")
    reference = logits_of(model, x)

    # The file is what PyTorch reads back: fresh model, strict load, same logits.
    fresh = create_vision_model(resnet34, NUM_CLASSES, pretrained=False)
    # fastai pickles its optimiser state with fastcore classes (`L`), so not weights_only.
    checkpoint = torch.load(out / "fastai_resnet34.pth", weights_only=False)
    assert set(checkpoint) == {"model", "opt"}, set(checkpoint)
    fresh.load_state_dict(checkpoint["model"], strict=True)
    # (Equal up to float rounding: convolutions over strided and contiguous weights take
    # different kernels.)
    diff = (logits_of(fresh, x) - reference).abs().max()
    assert diff <= 1e-4 * reference.abs().max(), (diff, reference)
    return {"file": "fastai_resnet34.pth", "logits": reference.tolist(), "state_dict": spec}


def make_torchvision(out: Path, x: torch.Tensor) -> dict:
    """A plain torchvision state dict stored in float16."""
    model = torchvision.models.resnet34(weights=None, num_classes=NUM_CLASSES)
    spec = state_dict_spec(model)
    half = torchvision.models.resnet34(weights=None, num_classes=NUM_CLASSES)
    fill_strided(half, dtype=torch.float16)
    state = half.state_dict()
    torch.save(state, out / "torchvision_resnet34.pth")
    # The reference runs in float32 on the float16 values.
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    return {"file": "torchvision_resnet34.pth", "logits": logits_of(model, x).tolist(), "state_dict": spec}


def export_check(trainer: Path, out: Path, case: dict, fresh: torch.nn.Module, x: torch.Tensor) -> dict:
    """import -> export --format safetensors in Rust, then a strict load in PyTorch."""
    with tempfile.TemporaryDirectory() as tmp:
        bpk, st = Path(tmp) / "model.bpk", Path(tmp) / "model.safetensors"
        subprocess.run([trainer, "import", out / case["file"], "--out", bpk], check=True)
        subprocess.run([trainer, "export", "--weights", bpk, "--format", "safetensors", "--out", st], check=True)
        state = load_file(st)
    result = fresh.load_state_dict(state, strict=True)
    logits = logits_of(fresh, x)
    reference = torch.tensor(case["logits"])
    return {
        "strict_load": not result.missing_keys and not result.unexpected_keys,
        "max_abs_diff": float((logits - reference).abs().max()),
        "max_abs_logit": float(reference.abs().max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "tests/fixtures/torch")
    parser.add_argument("--trainer", type=Path, help="trainer binary (default: cargo build, target/debug/trainer)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)

    x = formula_input()
    fastai = make_fastai(args.out, x)
    tv = make_torchvision(args.out, x)

    trainer = args.trainer
    if trainer is None:
        subprocess.run(["cargo", "build", "-p", "woofcam-trainer"], check=True, cwd=ROOT)
        trainer = ROOT / "target/debug/trainer"
    fastai["export_check"] = export_check(
        trainer, args.out, fastai, create_vision_model(resnet34, NUM_CLASSES, pretrained=False), x
    )
    tv["export_check"] = export_check(
        trainer, args.out, tv, torchvision.models.resnet34(weights=None, num_classes=NUM_CLASSES), x
    )

    expected = {
        "input": {
            "shape": list(INPUT_SHAPE),
            "formula": "float32(((i * 7919 + 13) % 2000) / 1000 - 1) for row-major index i",
        },
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "fastai": __import__("fastai").__version__},
        "fastai": fastai,
        "torchvision": tv,
    }
    (args.out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    for case in (fastai, tv):
        size = (args.out / case["file"]).stat().st_size
        print(f"{case['file']}: {size / 1e6:.2f} MB, export check {case['export_check']}")


if __name__ == "__main__":
    main()
