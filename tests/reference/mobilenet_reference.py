#!/usr/bin/env python3
"""Write the reference logits that `crates/trainer/src/teacher/` (the distillation
teacher, MobileNet v1 0.75 at 224 px) is tested against.

    python mobilenet_reference.py [--model DIR] [--out PATH] [--photos N]

DIR defaults to <repo>/../shared/models/mobilenet_v1_0.75_224 (the TensorFlow.js export);
PATH to <repo>/tests/fixtures/teacher/mobilenet_logits.json.

An independent implementation: the weights are read from model.json's weightsManifest
and the float32 shards with numpy, and the network is rebuilt in plain PyTorch
(F.pad for TensorFlow's 'same' padding, groups=C for depthwise convolutions,
BatchNorm eps 1e-3, ReLU6). It shares no code with the Rust side; only the input
pattern below is a contract between the two:

    x[c, h, w] = float32(sin(0.071 * h * (c + 1) + 0.037 * w * (3 - c) + 0.5 * c))

for c in 0..3, h, w in 0..224, computed in float64 then rounded to float32: an input
already in MobileNet's [-1, 1] range, so no image decoding or resizing can differ.
Deterministic up to the last float32 bits of the logits.

--photos N checks the reference itself on real photos: the first N Imagewoof val photos
of each class (PIL resize + centre crop 224); N=10 gives 94/100 right.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[2]
SIZE = 224
# Pointwise output channels at width 1 and the depthwise stride of each of the 13 blocks.
BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
IMAGEWOOF = {  # synset: ImageNet index, in the student's (sorted synset) order
    "n02086240": 155, "n02087394": 159, "n02088364": 162, "n02089973": 167, "n02093754": 182,
    "n02096294": 193, "n02099601": 207, "n02105641": 229, "n02111889": 258, "n02115641": 273,
}


def read_tfjs(model_dir: Path) -> dict[str, np.ndarray]:
    manifest = json.loads((model_dir / "model.json").read_text())["weightsManifest"]
    tensors = {}
    for group in manifest:
        data = b"".join((model_dir / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            assert w["dtype"] == "float32" and "quantization" not in w, w
            count = math.prod(w["shape"])
            tensors[w["name"]] = np.frombuffer(data, "<f4", count, offset).reshape(w["shape"])
            offset += 4 * count
        assert offset == len(data), group["paths"]
    return tensors


def same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow 'same': total = max((ceil(in/s) - 1) * s + k - in, 0), the extra at the end."""
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad wants (left, right, top, bottom)
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class MobileNetV1:
    def __init__(self, w: dict[str, np.ndarray]):
        self.w = {k: torch.from_numpy(v.copy()) for k, v in w.items()}

    def conv_bn(self, x, name, stride, depthwise):
        if depthwise:
            kernel = self.w[f"{name}/depthwise_kernel"].permute(2, 3, 0, 1)  # HWC1 -> C1HW
            groups = x.shape[1]
        else:
            kernel = self.w[f"{name}/kernel"].permute(3, 2, 0, 1)  # HWIO -> OIHW
            groups = 1
        x = F.conv2d(same_pad(x, kernel.shape[2], stride), kernel, stride=stride, groups=groups)
        bn = lambda f: self.w[f"{name}_bn/{f}"]  # noqa: E731
        x = F.batch_norm(x, bn("moving_mean"), bn("moving_variance"), bn("gamma"), bn("beta"), False, 0.0, 1e-3)
        return F.relu6(x)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_bn(x, "conv1", 2, depthwise=False)
        for i, (_, stride) in enumerate(BLOCKS, start=1):
            x = self.conv_bn(x, f"conv_dw_{i}", stride, depthwise=True)
            x = self.conv_bn(x, f"conv_pw_{i}", 1, depthwise=False)
        x = x.mean(dim=(2, 3))
        kernel = self.w["conv_preds/kernel"][0, 0]  # [768, 1000]
        return x @ kernel + self.w["conv_preds/bias"]


def pattern() -> np.ndarray:
    c, h, w = np.meshgrid(np.arange(3.0), np.arange(SIZE * 1.0), np.arange(SIZE * 1.0), indexing="ij")
    return np.sin(0.071 * h * (c + 1) + 0.037 * w * (3 - c) + 0.5 * c).astype(np.float32)


def photo_accuracy(net: MobileNetV1, per_class: int) -> tuple[int, int]:
    """Checks the reference itself: the first `per_class` Imagewoof val photos of each class
    (sorted by name), short side to 224 with PIL bilinear, centre crop 224; argmax over the
    ten Imagewoof logits."""
    from PIL import Image

    root = Path(os.environ.get("WOOFCAM_DATA", REPO.parent / "shared/data/imagewoof2-160")) / "val"
    correct = total = 0
    for label, (synset, _) in enumerate(IMAGEWOOF.items()):
        for path in sorted((root / synset).iterdir())[:per_class]:
            photo = Image.open(path).convert("RGB")
            scale = SIZE / min(photo.size)
            w, h = (max(SIZE, int(side * scale)) for side in photo.size)
            left, top = (w - SIZE) // 2, (h - SIZE) // 2
            photo = photo.resize((w, h), Image.BILINEAR).crop((left, top, left + SIZE, top + SIZE))
            x = torch.from_numpy(np.asarray(photo, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
            logits = net(x)[0]
            correct += int(torch.argmax(logits[list(IMAGEWOOF.values())])) == label
            total += 1
    return correct, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO.parent / "shared/models/mobilenet_v1_0.75_224")
    parser.add_argument("--out", type=Path, default=REPO / "tests/fixtures/teacher/mobilenet_logits.json")
    parser.add_argument("--photos", type=int, default=0, help="also print the accuracy on N val photos per class")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    net = MobileNetV1(read_tfjs(args.model))
    for name, (width_one, _) in zip([f"conv_pw_{i}" for i in range(1, 14)], BLOCKS):
        assert net.w[f"{name}/kernel"].shape[3] == int(width_one * 0.75), name
    logits = net(torch.from_numpy(pattern())[None])[0].double().numpy()

    top = np.argsort(-logits)[:5]
    fixture = {
        "description": "MobileNet v1 0.75 (TF.js export) logits for the sin pattern input; see "
        "tests/reference/mobilenet_reference.py",
        "torch": torch.__version__,
        "input": "x[c,h,w] = f32(sin(0.071*h*(c+1) + 0.037*w*(3-c) + 0.5*c)), [1,3,224,224], already in [-1,1]",
        "top5": [int(i) for i in top],
        "imagewoof_logits": {s: round(float(logits[i]), 6) for s, i in IMAGEWOOF.items()},
        "logits": [round(float(v), 6) for v in logits],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {args.out}: top5 {fixture['top5']}, max |logit| {np.abs(logits).max():.3f}")
    if args.photos:
        correct, total = photo_accuracy(net, args.photos)
        print(f"Imagewoof val, first {args.photos} photos per class: {correct}/{total} right")


if __name__ == "__main__":
    main()
