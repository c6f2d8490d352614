"""Reference PyTorch models for the Woofcam golden fixtures.

* torchvision_resnet34(num_classes=1000): plain torchvision ResNet-34.
  Keys: conv1.weight, bn1.*, layer1.0.conv1.weight, layer2.0.downsample.0.weight,
  layer2.0.downsample.1.*, ..., fc.weight, fc.bias.

* fastai_resnet34(n_out=10): the model fastai builds for
  `cnn_learner(dls, resnet34)` / `vision_learner(dls, resnet34)` with default
  arguments, rebuilt without fastai:

      nn.Sequential(
        body = nn.Sequential(*list(resnet34().children())[:-2]),   # cut=-2
              # 0 conv1, 1 bn1, 2 relu, 3 maxpool, 4 layer1, 5 layer2, 6 layer3, 7 layer4
        head = nn.Sequential(
          0 AdaptiveConcatPool2d()      # cat([max, avg], dim=1) -- MAX FIRST
          1 Flatten()                   # x.view(x.size(0), -1)
          2 BatchNorm1d(1024)           # LinBnDrop #1 (bn, p=0.25, Linear, ReLU)
          3 Dropout(0.25)
          4 Linear(1024, 512, bias=False)
          5 ReLU(inplace=True)          # inplace=False here, see below
          6 BatchNorm1d(512)            # LinBnDrop #2 (bn, p=0.5, Linear)
          7 Dropout(0.5)
          8 Linear(512, n_out, bias=False)))

  Keys: 0.0.weight (stem conv), 0.1.* (stem bn), 0.4.0.conv1.weight (layer1 block 0),
  0.5.0.downsample.0.weight, ..., 0.7.2.bn2.*, 1.2.*, 1.4.weight, 1.6.*, 1.8.weight.

  Verified against fastai's source (fastai/vision/learner.py create_head /
  create_body, fastai/layers.py LinBnDrop, AdaptiveConcatPool2d, Flatten):
  lin_ftrs=[1024, 512, n_out], ps=[0.25, 0.5], first_bn=True, bn_final=False,
  lin_first=False, LinBnDrop uses bias=not bn -> both Linears have no bias.
  Differences from real fastai (numerically irrelevant in eval mode):
    - fastai's BatchNorm1d in the head are created via fastai's BatchNorm()
      (init weight=1, bias=1e-3) and the head is kaiming_normal_-initialised;
      we overwrite everything by formula anyway.
    - fastai uses its own `Flatten` class (same forward); ours is a local copy.
    - all ReLUs are set to inplace=False (captum's GuidedBackprop hooks ReLU
      modules; inplace ReLUs are fragile with its hooks). Same values.

Both constructors return the model in eval mode.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torchvision


class AdaptiveConcatPool2d(nn.Module):
    "fastai: concat of AdaptiveMaxPool2d and AdaptiveAvgPool2d (max first)."

    def __init__(self, size=None):
        super().__init__()
        self.size = size or 1
        self.ap = nn.AdaptiveAvgPool2d(self.size)
        self.mp = nn.AdaptiveMaxPool2d(self.size)

    def forward(self, x):
        return torch.cat([self.mp(x), self.ap(x)], 1)


class Flatten(nn.Module):
    "fastai: Flatten(full=False) -> x.view(x.size(0), -1)."

    def forward(self, x):
        return x.view(x.size(0), -1)


def no_inplace_relu(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    return model


def torchvision_resnet34(num_classes: int = 1000) -> nn.Module:
    m = torchvision.models.resnet34(weights=None, num_classes=num_classes)
    return no_inplace_relu(m).eval()


def fastai_resnet34(n_out: int = 10) -> nn.Module:
    rn = torchvision.models.resnet34(weights=None)
    body = nn.Sequential(*list(rn.children())[:-2])
    head = nn.Sequential(
        AdaptiveConcatPool2d(),
        Flatten(),
        nn.BatchNorm1d(1024),
        nn.Dropout(0.25),
        nn.Linear(1024, 512, bias=False),
        nn.ReLU(inplace=True),
        nn.BatchNorm1d(512),
        nn.Dropout(0.5),
        nn.Linear(512, n_out, bias=False),
    )
    m = nn.Sequential(body, head)
    return no_inplace_relu(m).eval()


def fastai_layers(m: nn.Module) -> dict:
    "Named target layers of the fastai model (body = m[0])."
    body = m[0]
    return {
        "layer1": body[4],
        "layer2": body[5],
        "layer3": body[6],
        "layer4": body[7],
        "layer3.2": body[6][2],
    }


def torchvision_layers(m: nn.Module) -> dict:
    return {"layer2": m.layer2, "layer3": m.layer3, "layer4": m.layer4, "layer3.2": m.layer3[2]}


if __name__ == "__main__":
    for name, m in [("fastai", fastai_resnet34()), ("torchvision", torchvision_resnet34())]:
        sd = m.state_dict()
        print(name, len(sd), "entries,", sum(p.numel() for p in m.parameters()), "params")
        keys = list(sd)
        print("  ", keys[:3], "...", keys[-6:])
