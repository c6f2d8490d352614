#!/usr/bin/env python3
"""Write the Woofcam golden fixtures (float32 safetensors) from PyTorch + captum
+ pytorch-grad-cam, with the formula weights of formula_weights.py.

    python make_golden.py [--image PATH] [--out DIR]

Outputs (DIR defaults to <repo>/tests/fixtures/golden):
    fastai_resnet34.safetensors
    torchvision_resnet34.safetensors
    formula_check.json           (hash / first-values self-check for the Rust port)

Deterministic: fixed seeds, 2 intra-op threads, no randomness in eval mode.
Running it twice on the same machine produces byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
warnings.filterwarnings("ignore", module="captum")

from formula_weights import fill_state_dict, self_check  # noqa: E402
from models import (  # noqa: E402
    fastai_layers,
    fastai_resnet34,
    torchvision_layers,
    torchvision_resnet34,
)

# Imagewoof: $WOOFCAM_DATA, or in shared/ beside the repository (as for the Rust tests).
IMAGEWOOF = Path(os.environ.get("WOOFCAM_DATA", "../shared/data/imagewoof2-160"))
DEFAULT_IMAGE = str(IMAGEWOOF / "val/n02111889/ILSVRC2012_val_00000590.JPEG")
H, W = 160, 128  # non-square on purpose
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def setup_determinism():
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True, warn_only=True)


def load_input(path: str) -> torch.Tensor:
    """PIL RGB -> squish-resize to 160x128 (H x W), PIL bilinear -> /255 -> ImageNet norm.
    All arithmetic in float32. Returns [1,3,160,128]."""
    im = Image.open(path).convert("RGB").resize((W, H), Image.BILINEAR)  # PIL size = (w, h)
    x = np.asarray(im, dtype=np.float32) / np.float32(255.0)
    x = (x - MEAN) / STD
    assert x.dtype == np.float32 and x.shape == (H, W, 3)
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].contiguous()


# ---------------------------------------------------------------- explainers
def capture_activation(model, layer, x):
    store = {}
    h = layer.register_forward_hook(lambda m, i, o: store.__setitem__("a", o.detach().clone()))
    with torch.no_grad():
        model(x)
    h.remove()
    return store["a"]


def pgc_gradcam(model, layer, x, target):
    """pytorch-grad-cam GradCAM. Returns (alpha [C], final map [H,W]).
    target=None -> pgc's default (argmax)."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    targets = None if target is None else [ClassifierOutputTarget(int(target))]
    with GradCAM(model=model, target_layers=[layer]) as cam:
        out = cam(input_tensor=x, targets=targets)
        grads = cam.activations_and_grads.gradients[0].numpy()  # [1,C,h,w]
        alpha = cam.get_cam_weights(x, [layer], targets, None, grads)[0]  # np.mean over (2,3)
    model.zero_grad(set_to_none=True)
    return torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32)), torch.from_numpy(
        np.ascontiguousarray(out[0], dtype=np.float32)
    )


def captum_layer_gradcam(model, layer, x, target, relu):
    from captum.attr import LayerGradCam

    a = LayerGradCam(model, layer).attribute(x, target=int(target), relu_attributions=relu)
    model.zero_grad(set_to_none=True)
    assert a.shape[:2] == (1, 1), a.shape
    return a[0, 0].detach().contiguous()


def captum_guided_backprop(model, x, target):
    from captum.attr import GuidedBackprop

    a = GuidedBackprop(model).attribute(x, target=int(target))
    model.zero_grad(set_to_none=True)
    return a.detach().contiguous()


def captum_guided_gradcam(model, layer, x, target):
    from captum.attr import GuidedGradCam

    a = GuidedGradCam(model, layer).attribute(x, target=int(target), interpolate_mode="bilinear")
    model.zero_grad(set_to_none=True)
    return a.detach().contiguous()


def minmax_like_pgc(img: np.ndarray) -> np.ndarray:
    img = img - np.min(img)
    return img / (1e-7 + np.max(img))


# ---------------------------------------------------------------- checks
def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / (b.abs().max() + 1e-30))


def check(name: str, a, b, tol: float, report: dict):
    e = rel_err(torch.as_tensor(a).float(), torch.as_tensor(b).float())
    report[name] = e
    status = "ok" if e <= tol else "MISMATCH"
    print(f"    check {name:55s} max|diff|/max|ref| = {e:.2e}  ({status}, tol {tol:g})")
    assert e <= tol, f"{name}: {e} > {tol}"


def gradcam_block(model, layer, lname, x, target, T, report):
    import cv2

    alpha, pgc_map = pgc_gradcam(model, layer, x, target)
    raw = captum_layer_gradcam(model, layer, x, target, relu=False)
    relu = captum_layer_gradcam(model, layer, x, target, relu=True)
    A = capture_activation(model, layer, x)[0]  # [C,h,w]
    assert alpha.shape == (A.shape[0],)
    ours = (alpha[:, None, None] * A).sum(0)
    check(f"{lname}: captum raw == sum(alpha_pgc*A)", raw, ours, 1e-4, report)
    check(f"{lname}: captum relu == relu(sum(alpha_pgc*A))", relu, ours.clamp_min(0), 1e-4, report)
    check(f"{lname}: captum relu == relu(captum raw)", relu, raw.clamp_min(0), 0.0, report)
    # pgc pipeline: relu -> minmax -> cv2.resize (INTER_LINEAR) to (W,H) -> minmax
    re = minmax_like_pgc(cv2.resize(minmax_like_pgc(relu.numpy()), (W, H)))
    check(f"{lname}: pgc == minmax(resize(minmax(captum relu)))", re, pgc_map, 1e-3, report)
    T[f"gradcam/{lname}/weights"] = alpha
    T[f"gradcam/{lname}/raw"] = raw
    T[f"gradcam/{lname}/relu"] = relu
    return pgc_map


def save(T: dict, path: Path, meta: dict):
    from safetensors.torch import save_file

    T = {k: v.detach().to(torch.float32).contiguous() for k, v in T.items()}
    for k, v in T.items():
        assert torch.isfinite(v).all(), k
    # One metadata key holding sorted JSON: safetensors writes __metadata__ from a
    # hash map, so several keys would come out in random order (non-reproducible bytes).
    save_file(T, str(path), metadata={"woofcam": json.dumps({k: str(v) for k, v in meta.items()}, sort_keys=True)})
    os.chmod(path, 0o644)  # safetensors creates 0600 files
    sz = path.stat().st_size
    print(f"  wrote {path} ({sz} bytes, {sz / 1e6:.3f} MB, {len(T)} tensors)")
    for k, v in T.items():
        print(f"      {k:36s} {list(v.shape)}")
    assert sz < 1_500_000, f"{path} is too large: {sz}"
    return sz


def versions() -> dict:
    import captum
    import PIL
    import safetensors
    import torchvision

    from importlib.metadata import version

    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "grad-cam": version("grad-cam"),
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
    }


# ---------------------------------------------------------------- fixtures
def make_fastai(x, image_rel, out: Path, report: dict):
    print("fastai_resnet34 (n_out=10), formula weights")
    torch.manual_seed(0)
    model = fastai_resnet34(10)
    fill_state_dict(model)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    order = torch.argsort(logits[0], descending=True)
    top1, target = int(order[0]), int(order[2])
    vals = logits[0][order]
    print(f"  logits {logits[0].tolist()}")
    print(f"  top-3 classes {order[:3].tolist()} values {vals[:3].tolist()}; 4th {vals[3].item():.4f}")
    assert target != top1
    # margins so that nobody can disagree on the ordering because of float noise
    assert (vals[0] - vals[1]) > 1e-2 and (vals[1] - vals[2]) > 1e-2 and (vals[2] - vals[3]) > 1e-2
    print(f"  target = class {target} (3rd-highest logit), top1 = {top1}")
    report["fastai_top3"] = [(int(i), float(logits[0, i])) for i in order[:3]]
    report["fastai_target"] = target

    T = {
        "input": x,
        "logits": logits,
        "target": torch.tensor([float(target)]),
        "top1": torch.tensor([float(top1)]),
    }
    layers = fastai_layers(model)
    for lname in ["layer2", "layer3", "layer4", "layer3.2"]:
        T[f"gradcam/{lname}/pgc"] = gradcam_block(model, layers[lname], lname, x, target, T, report)
        print(f"    gradcam/{lname}: A {list(T[f'gradcam/{lname}/raw'].shape)}, C={T[f'gradcam/{lname}/weights'].numel()}")
    # default-class check (top-1)
    T["gradcam/layer4/relu_top1"] = captum_layer_gradcam(model, layers["layer4"], x, top1, relu=True)
    _, pgc_default = pgc_gradcam(model, layers["layer4"], x, None)  # pgc default target = argmax
    _, pgc_top1 = pgc_gradcam(model, layers["layer4"], x, top1)
    check("layer4: pgc(targets=None) == pgc(top1)", pgc_default, pgc_top1, 0.0, report)

    gb = captum_guided_backprop(model, x, target)
    T["guided_backprop"] = gb
    for lname in ["layer4", "layer3"]:
        ggc = captum_guided_gradcam(model, layers[lname], x, target)
        up = F.interpolate(T[f"gradcam/{lname}/relu"][None, None], size=(H, W), mode="bilinear")
        check(f"guided_gradcam/{lname} == GB * bilinear(relu cam)", ggc, gb * up, 1e-5, report)
        T[f"guided_gradcam/{lname}"] = ggc
    # sanity: guided backprop differs from the plain gradient
    xg = x.clone().requires_grad_(True)
    model(xg)[0, target].backward()
    model.zero_grad(set_to_none=True)
    report["fastai_gb_vs_plain_grad_rel_diff"] = rel_err(gb, xg.grad)
    print(f"    guided backprop vs plain gradient rel diff {report['fastai_gb_vs_plain_grad_rel_diff']:.3f} (must be >0)")
    assert report["fastai_gb_vs_plain_grad_rel_diff"] > 1e-3

    meta = {
        "model": "fastai_resnet34(n_out=10), formula weights (tests/reference/formula_weights.py)",
        "image": image_rel,
        "preprocess": "PIL RGB, resize (w=128,h=160) BILINEAR squish, /255, ImageNet mean/std (float32)",
        "target": target,
        "top1": top1,
        "score": "pre-softmax logit",
        "layers": "layer2=body[5], layer3=body[6], layer4=body[7], layer3.2=body[6][2]",
        **versions(),
    }
    report["fastai_size"] = save(T, out / "fastai_resnet34.safetensors", meta)


def make_torchvision(x, image_rel, out: Path, report: dict):
    print("torchvision_resnet34 (1000 classes), formula weights")
    torch.manual_seed(0)
    model = torchvision_resnet34(1000)
    fill_state_dict(model)
    model.eval()
    with torch.no_grad():
        logits = model(x)
    order = torch.argsort(logits[0], descending=True)
    vals = logits[0][order]
    target = int(order[0])
    print(f"  top-3 classes {order[:3].tolist()} values {vals[:3].tolist()}")
    assert vals[0] - vals[1] > 1e-2
    report["torchvision_top3"] = [(int(i), float(logits[0, i])) for i in order[:3]]
    report["torchvision_target"] = target
    T = {"input": x, "logits": logits, "target": torch.tensor([float(target)])}
    layer = torchvision_layers(model)["layer4"]
    gradcam_block(model, layer, "layer4", x, target, T, report)  # also adds gradcam/layer4/weights
    T["guided_backprop"] = captum_guided_backprop(model, x, target)
    meta = {
        "model": "torchvision.models.resnet34(weights=None), formula weights",
        "image": image_rel,
        "preprocess": "PIL RGB, resize (w=128,h=160) BILINEAR squish, /255, ImageNet mean/std (float32)",
        "target": target,
        "score": "pre-softmax logit",
        **versions(),
    }
    report["torchvision_size"] = save(T, out / "torchvision_resnet34.safetensors", meta)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", default=DEFAULT_IMAGE, help="photo, path relative to the repo root or absolute")
    ap.add_argument("--out", default=str(REPO / "tests/fixtures/golden"))
    ap.add_argument("--report", default=None, help="optional: write a JSON report of checks here")
    args = ap.parse_args()
    setup_determinism()

    img = Path(args.image)
    img_path = img if img.is_absolute() else REPO / img
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    x = load_input(str(img_path))
    print(f"input {list(x.shape)} from {img_path} (mean {x.mean().item():.4f}, std {x.std().item():.4f})")

    report: dict = {"versions": versions()}
    make_fastai(x, args.image, out, report)
    make_torchvision(x, args.image, out, report)
    with open(out / "formula_check.json", "w") as f:
        json.dump(self_check(), f, indent=1)
        f.write("\n")
    print(f"  wrote {out / 'formula_check.json'}")
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    print(json.dumps({k: v for k, v in report.items() if not k.startswith(("layer", "guided"))}))


if __name__ == "__main__":
    main()
