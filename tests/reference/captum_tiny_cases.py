#!/usr/bin/env python3
"""Re-run captum's own hand-weighted unit-test cases (GuidedBackprop, LayerGradCam,
GuidedGradCam) with the installed captum, assert captum's expected numbers, and
print intermediates. The results are written up in captum_tiny_cases.md.

Models are copied from captum/testing/helpers/basic_models.py (captum 0.9.0).
"""

from __future__ import annotations

import json
import sys
import warnings

import torch
import torch.nn as nn

warnings.filterwarnings("ignore")


class BasicModel_ConvNet_One_Conv(nn.Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, 1)
        self.relu1 = nn.ReLU(inplace=inplace)
        self.fc1 = nn.Linear(8, 4)
        self.conv1.weight = nn.Parameter(torch.ones(2, 1, 3, 3))
        self.conv1.bias = nn.Parameter(torch.tensor([-50.0, -75.0]))
        self.fc1.weight = nn.Parameter(torch.cat([torch.ones(4, 5), -1 * torch.ones(4, 3)], dim=1))
        self.fc1.bias = nn.Parameter(torch.zeros(4))
        self.relu2 = nn.ReLU(inplace=inplace)

    def forward(self, x, x2=None):
        if x2 is not None:
            x = x + x2
        x = self.relu1(self.conv1(x))
        x = x.view(-1, 8)
        return self.relu2(self.fc1(x))


class BasicModel_MultiLayer(nn.Module):
    "Single-input variant (multi_input_module=False) of captum's BasicModel_MultiLayer."

    def __init__(self) -> None:
        super().__init__()
        self.linear0 = nn.Linear(3, 3)
        self.linear0.weight = nn.Parameter(torch.eye(3))
        self.linear0.bias = nn.Parameter(torch.zeros(3))
        self.linear1 = nn.Linear(3, 4)
        self.linear1.weight = nn.Parameter(torch.ones(4, 3))
        self.linear1.bias = nn.Parameter(torch.tensor([-10.0, 1.0, 1.0, 1.0]))
        self.relu = nn.ReLU()
        self.linear2 = nn.Linear(4, 2)
        self.linear2.weight = nn.Parameter(torch.ones(2, 4))
        self.linear2.bias = nn.Parameter(torch.tensor([-1.0, 1.0]))

    def forward(self, x):
        return self.linear2(self.relu(self.linear1(self.linear0(x))))


def arange_input():
    return torch.arange(16, dtype=torch.float).view(1, 1, 4, 4)


def close(a, b, delta=0.01):
    a = torch.as_tensor(a, dtype=torch.float32)
    b = torch.as_tensor(b, dtype=torch.float32)
    return a.shape == b.shape and bool((a - b).abs().max() <= delta)


def main():
    import captum
    from captum.attr import GuidedBackprop, GuidedGradCam, LayerGradCam

    results = {"captum": captum.__version__, "torch": torch.__version__, "cases": []}
    ok_all = True

    def record(name, got, expected, **extra):
        nonlocal ok_all
        ok = close(got, expected)
        ok_all &= ok
        results["cases"].append({"name": name, "ok": ok, "got": torch.as_tensor(got).tolist(),
                                 "expected": torch.as_tensor(expected).tolist(), **extra})
        print(f"[{'ok' if ok else 'FAIL'}] {name}")
        print("      got     ", torch.as_tensor(got).tolist())
        if not ok:
            print("      expected", torch.as_tensor(expected).tolist())

    # ---- intermediates of One_Conv on arange(16)
    net = BasicModel_ConvNet_One_Conv()
    x = arange_input()
    with torch.no_grad():
        c = net.conv1(x)
        r = c.clamp_min(0)
        o = net.fc1(r.view(-1, 8))
    print("One_Conv on arange(16): conv1 out", c.tolist())
    print("                        relu1 out", r.tolist())
    print("                        fc1 out  ", o.tolist())
    xg = x.clone().requires_grad_(True)
    net(xg)[0, 0].backward()
    print("plain gradient d out0/dx        ", xg.grad.tolist())
    net.zero_grad()

    # ---- GuidedBackprop
    gb_exp = [[[[0.0, 1.0, 1.0, 1.0], [1.0, 3.0, 3.0, 2.0], [1.0, 3.0, 3.0, 2.0], [1.0, 2.0, 2.0, 1.0]]]]
    record("GB One_Conv arange target=0", GuidedBackprop(net).attribute(arange_input(), target=0), gb_exp)
    ex_attr = [[[[1.0, 2.0, 2.0, 1.0], [2.0, 4.0, 4.0, 2.0], [2.0, 4.0, 4.0, 2.0], [1.0, 2.0, 2.0, 1.0]]]]
    a1, a2 = GuidedBackprop(net).attribute((arange_input(), torch.ones(1, 1, 4, 4)), target=0)
    record("GB One_Conv (arange, ones) target=0 [input 1]", a1, ex_attr)
    record("GB One_Conv (arange, ones) target=0 [input 2]", a2, ex_attr)
    record("GB One_Conv arange+1 single input target=0 (equivalent)",
           GuidedBackprop(net).attribute(arange_input() + 1, target=0), ex_attr)
    for t in range(4):  # all 4 outputs are identical functions -> same attribution
        record(f"GB One_Conv arange target={t}", GuidedBackprop(net).attribute(arange_input(), target=t), gb_exp)

    # ---- LayerGradCam
    ml = BasicModel_MultiLayer()
    record("LayerGradCam MultiLayer linear0 x=[0,100,0] target=0",
           LayerGradCam(ml, ml.linear0).attribute(torch.tensor([[0.0, 100.0, 0.0]]), target=0), [[400.0]])
    record("LayerGradCam One_Conv conv1 target=0",
           LayerGradCam(net, net.conv1).attribute(arange_input(), target=0), [[[[11.25, 13.5], [20.25, 22.5]]]])
    record("LayerGradCam One_Conv conv1 target=0 attr_dim_summation=False",
           LayerGradCam(net, net.conv1).attribute(arange_input(), target=0, attr_dim_summation=False),
           [[[[-3.75, 3.0], [23.25, 30.0]], [[15.0, 10.5], [-3.0, -7.5]]]])
    record("LayerGradCam One_Conv conv1 target=0 relu_attributions=True",
           LayerGradCam(net, net.conv1).attribute(arange_input(), target=0, relu_attributions=True),
           [[[[11.25, 13.5], [20.25, 22.5]]]])
    record("LayerGradCam One_Conv relu1 target=0",
           LayerGradCam(net, net.relu1).attribute(arange_input(), target=0), [[[[0.0, 4.0], [28.0, 32.5]]]])
    xi = arange_input()
    xi[0, 0, 1, 1] = -4.0
    record("LayerGradCam One_Conv conv1 INPUT (attribute_to_layer_input) x[1,1]=-4",
           LayerGradCam(net, net.conv1).attribute(xi, target=0, attribute_to_layer_input=True), 0.5625 * xi)
    e = 0.5625 * xi
    e[0, 0, 1, 1] = 0.0
    record("LayerGradCam One_Conv conv1 INPUT x[1,1]=-4 relu_attributions=True",
           LayerGradCam(net, net.conv1).attribute(xi, target=0, attribute_to_layer_input=True,
                                                  relu_attributions=True), e)
    record("LayerGradCam One_Conv conv1 (arange, ones) target=0",
           LayerGradCam(net, net.conv1).attribute((arange_input(), torch.ones(1, 1, 4, 4)), target=0),
           [[[[14.5, 19.0], [32.5, 37.0]]]])
    record("LayerGradCam One_Conv conv1 arange+1 target=0 (equivalent)",
           LayerGradCam(net, net.conv1).attribute(arange_input() + 1, target=0), [[[[14.5, 19.0], [32.5, 37.0]]]])
    record("LayerGradCam One_Conv relu1 arange+1 target=0 (extra)",
           LayerGradCam(net, net.relu1).attribute(arange_input() + 1, target=0), [[[[4.0, 13.0], [32.5, 37.0]]]])  # by hand: alpha=[1,-0.5]

    # ---- GuidedGradCam
    ggc_exp = [[[[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 12.0, 8.0], [28.0, 84.0, 97.5, 65.0], [28.0, 56.0, 65.0, 32.5]]]]
    record("GuidedGradCam One_Conv relu1 nearest target=0",
           GuidedGradCam(net, net.relu1).attribute(arange_input(), target=0), ggc_exp)
    ex = [[[[14.5, 29.0, 38.0, 19.0], [29.0, 58.0, 76.0, 38.0], [65.0, 130.0, 148.0, 74.0], [32.5, 65.0, 74.0, 37.0]]]]
    b1, b2 = GuidedGradCam(net, net.conv1).attribute((arange_input(), torch.ones(1, 1, 4, 4)), target=0)
    record("GuidedGradCam One_Conv conv1 (arange, ones) nearest [input 1]", b1, ex)
    record("GuidedGradCam One_Conv conv1 (arange, ones) nearest [input 2]", b2, ex)
    record("GuidedGradCam One_Conv conv1 arange+1 nearest (equivalent)",
           GuidedGradCam(net, net.conv1).attribute(arange_input() + 1, target=0), ex)
    neti = BasicModel_ConvNet_One_Conv(inplace=True)
    c1, _ = GuidedGradCam(neti, neti.relu1).attribute((arange_input(), torch.ones(1, 1, 4, 4)), target=0,
                                                      attribute_to_layer_input=True)
    record("GuidedGradCam One_Conv(inplace) relu1 INPUT (arange, ones) nearest", c1, ex)
    c2, _ = GuidedGradCam(neti, neti.conv1).attribute((arange_input(), torch.ones(1, 1, 4, 4)), target=0)
    record("GuidedGradCam One_Conv(inplace) conv1 (arange, ones) nearest", c2, ex)

    # ---- extra cases (not in captum's tests): bilinear upsampling, as Woofcam uses
    # bilinear, align_corners=False, 2x2 -> 4x4 of relu1 cam [[0,4],[28,32.5]]
    up = torch.nn.functional.interpolate(torch.tensor([[[[0.0, 4.0], [28.0, 32.5]]]]), size=(4, 4),
                                         mode="bilinear")
    print("bilinear 2x2->4x4 of [[0,4],[28,32.5]]:", up.tolist())
    got = GuidedGradCam(net, net.relu1).attribute(arange_input(), target=0, interpolate_mode="bilinear")
    record("GuidedGradCam One_Conv relu1 BILINEAR target=0 (extra)", got, torch.tensor(gb_exp) * up)
    results["extra_bilinear_up"] = up.tolist()

    print(json.dumps({"captum": results["captum"], "all_ok": ok_all, "n": len(results["cases"])}))
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump(results, f, indent=1)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
