"""Deterministic "weights by formula" shared with the Rust side of Woofcam.

This file is a CONTRACT: the Rust code reproduces every value bit-exactly.
Do not change any constant, rounding step or classification rule without
changing the Rust implementation in the same commit.

For a state_dict entry with key K (UTF-8 string, e.g. "layer1.0.conv1.weight")
and element i (row-major flat index, 0-based):

    h      = fnv1a64(K)                       # FNV-1a 64-bit over the UTF-8 bytes
    z      = splitmix64((h + i) mod 2^64)
    unit   = float32((z >> 40) / 2^23 - 1)    # exact; 24-bit grid in [-1, 1)
    value  = float32(offset) + float32(scale) * unit
             # float32 multiply, rounded; then float32 add, rounded (no FMA,
             # never evaluated in float64). scale is computed in float64 then
             # rounded to float32 once.

(offset, scale) by parameter kind (module type of the owner + attribute name):

    Conv2d.weight [o,i,kh,kw]          (0.0, sqrt(6 / (i*kh*kw)))
    BatchNorm{1d,2d}.weight            (1.0, 0.25)
        ...except attribute `bn2` of a torchvision BasicBlock (key ends in
        ".bn2.weight")                 (0.5, 0.25)
    BatchNorm.bias                     (0.0, 0.1)
    BatchNorm.running_mean             (0.0, 0.1)
    BatchNorm.running_var              (1.0, 0.5)
    BatchNorm.num_batches_tracked      untouched (ignored by eval-mode BN)
    Linear.weight [out,in]             (0.0, sqrt(3 / in))
    Linear.bias                        (0.0, 0.1)

(In ResNet-34 every `bn2` is the second BN of a BasicBlock, so the rule
"key's second-to-last component is `bn2`" is equivalent.)

Run this file directly to print self-check values (also written to
tests/fixtures/golden/formula_check.json by make_golden.py).
"""

from __future__ import annotations

import math

import numpy as np

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
SM_GAMMA = 0x9E3779B97F4A7C15
SM_M1 = 0xBF58476D1CE4E5B9
SM_M2 = 0x94D049BB133111EB


# ---------------------------------------------------------------- scalar reference
def fnv1a64(key: str) -> int:
    h = FNV_OFFSET
    for b in key.encode("utf-8"):
        h ^= b
        h = (h * FNV_PRIME) & MASK64
    return h


def splitmix64(x: int) -> int:
    z = (x + SM_GAMMA) & MASK64
    z = ((z ^ (z >> 30)) * SM_M1) & MASK64
    z = ((z ^ (z >> 27)) * SM_M2) & MASK64
    return z ^ (z >> 31)


def unit(key: str, i: int) -> np.float32:
    k = splitmix64((fnv1a64(key) + i) & MASK64) >> 40  # 0 <= k < 2^24
    return np.float32(k / 2.0**23 - 1.0)  # exact in float64 and float32


def value(key: str, i: int, offset: float, scale: float) -> np.float32:
    return np.float32(np.float32(offset) + np.float32(scale) * unit(key, i))


# ---------------------------------------------------------------- vectorised
_U = np.uint64


def splitmix64_np(x: np.ndarray) -> np.ndarray:
    """Vectorised splitmix64 on a uint64 array (wrapping arithmetic)."""
    assert x.dtype == np.uint64
    with np.errstate(over="ignore"):
        z = x + _U(SM_GAMMA)
        z = (z ^ (z >> _U(30))) * _U(SM_M1)
        z = (z ^ (z >> _U(27))) * _U(SM_M2)
        return z ^ (z >> _U(31))


def unit_np(key: str, n: int) -> np.ndarray:
    """unit(key, i) for i in 0..n, as float32."""
    idx = np.arange(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = idx + _U(fnv1a64(key))  # wraps mod 2^64
    k = splitmix64_np(x) >> _U(40)
    # k < 2^24: exact in float64; k/2^23 - 1 exact in float64 and in float32
    return (k.astype(np.float64) / 2.0**23 - 1.0).astype(np.float32)


def formula_values(key: str, shape, offset: float, scale: float) -> np.ndarray:
    n = int(np.prod(shape)) if len(shape) else 1
    u = unit_np(key, n)
    off32 = np.float32(offset)
    sc32 = np.float32(scale)  # scale computed in float64 by the caller, rounded here once
    prod = (u * sc32).astype(np.float32)  # float32 multiply (rounded)
    out = (prod + off32).astype(np.float32)  # float32 add (rounded)
    assert out.dtype == np.float32
    return out.reshape(shape)


# ---------------------------------------------------------------- classification
def param_kind(model, key: str, shape):
    """(offset, scale) for state_dict key, or None to leave the entry untouched."""
    import torch.nn as nn

    modname, _, attr = key.rpartition(".")
    mod = model.get_submodule(modname) if modname else model
    if isinstance(mod, nn.Conv2d):
        if attr == "weight":
            _, i, kh, kw = shape
            return 0.0, math.sqrt(6.0 / (i * kh * kw))
        if attr == "bias":  # ResNets have none; kept for completeness
            return 0.0, 0.1
    elif isinstance(mod, nn.modules.batchnorm._BatchNorm):
        if attr == "weight":
            return (0.5, 0.25) if modname.split(".")[-1] == "bn2" else (1.0, 0.25)
        if attr == "bias":
            return 0.0, 0.1
        if attr == "running_mean":
            return 0.0, 0.1
        if attr == "running_var":
            return 1.0, 0.5
        if attr == "num_batches_tracked":
            return None
    elif isinstance(mod, nn.Linear):
        if attr == "weight":
            _, fan_in = shape
            return 0.0, math.sqrt(3.0 / fan_in)
        if attr == "bias":
            return 0.0, 0.1
    raise ValueError(f"no formula for state_dict key {key!r} ({type(mod).__name__})")


def fill_state_dict(model) -> dict:
    """Overwrite every parameter/buffer of `model` in place by formula.

    Uses the model's own state_dict key names. Returns {key: (offset, scale)}.
    """
    import torch

    used = {}
    sd = model.state_dict(keep_vars=True)
    with torch.no_grad():
        for key, t in sd.items():
            kind = param_kind(model, key, tuple(t.shape))
            if kind is None:
                continue
            offset, scale = kind
            vals = formula_values(key, tuple(t.shape), offset, scale)
            assert t.dtype == torch.float32, (key, t.dtype)
            t.copy_(torch.from_numpy(vals))
            used[key] = (offset, scale)
    return used


# ---------------------------------------------------------------- self check
def self_check() -> dict:
    """Values the Rust side can assert against (see formula_check.json)."""
    out = {"fnv1a64": {}, "splitmix64": {}, "values": {}}
    for k in ["", "a", "conv1.weight", "0.0.weight", "fc.weight", "1.8.weight"]:
        out["fnv1a64"][k] = f"0x{fnv1a64(k):016x}"
    for x in [0, 1, 0xFFFFFFFFFFFFFFFF, 0x0123456789ABCDEF]:
        out["splitmix64"][f"0x{x:016x}"] = f"0x{splitmix64(x):016x}"
    cases = [
        ("conv1.weight", (64, 3, 7, 7), 0.0, math.sqrt(6.0 / 147)),
        ("layer1.0.bn2.weight", (64,), 0.5, 0.25),
        ("bn1.running_var", (64,), 1.0, 0.5),
        ("fc.weight", (1000, 512), 0.0, math.sqrt(3.0 / 512)),
        ("1.8.weight", (10, 512), 0.0, math.sqrt(3.0 / 512)),
    ]
    for key, shape, off, sc in cases:
        v = formula_values(key, shape, off, sc).reshape(-1)
        first = v[:8]
        # scalar reference must agree bit-exactly with the vectorised path
        for i in range(8):
            assert value(key, i, off, sc).view(np.uint32) == first[i].view(np.uint32)
        last = int(v.size - 1)
        assert value(key, last, off, sc).view(np.uint32) == v[last].view(np.uint32)
        out["values"][key] = {
            "shape": list(shape),
            "offset": off,
            "scale_f32_bits": f"0x{np.float32(sc).view(np.uint32):08x}",
            "first8": [float(x) for x in first],
            "first8_bits": [f"0x{x.view(np.uint32):08x}" for x in first],
            "last_index": last,
            "last_bits": f"0x{v[last].view(np.uint32):08x}",
            "sum_f64": float(v.astype(np.float64).sum()),
        }
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(self_check(), indent=1))
