#!/usr/bin/env python3
"""Packs what a GPU training run needs into parts small enough for a remote GPU machine.

The remote machine accepts uploads of at most 64 MiB per command (the working tree included)
and starts bare, so the trainer binary, the Vulkan loader, the teacher and Imagewoof travel in
several parts: `OUT/p1`, `OUT/p2`, ... each a folder of tar files that `remote.sh unpack`
extracts into /tmp/woofcam there. The first part carries the binary, the loader debs and the
teacher; the data follows in file order, the validation subset last, then the model that
`--init` names (for `woofcam train --init /tmp/woofcam/init/NAME.bpk` there).

Usage: scripts/gpu/pack.py --trainer target/release/woofcam --debs .gl --out .gpu
         [--data ../shared/data/imagewoof2-160] [--teacher ../shared/models/mobilenet_v1_0.75_224]
         [--val-per-class 96] [--part-mib 56] [--init runs/NAME/model.bpk]
"""
import argparse
import gzip
import shutil
import sys
import tarfile
from pathlib import Path


def archive(path):
    """A new tar file. GNU headers: the default PAX format adds a 1 KiB header per photo (for
    its fractional modification time), which the part budget does not count."""
    return tarfile.open(path, "w", format=tarfile.GNU_FORMAT)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trainer", type=Path, required=True, help="the trainer built with --features wgpu")
    p.add_argument("--debs", type=Path, required=True, help="folder of the Vulkan loader .deb files")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path("../shared/data/imagewoof2-160"))
    p.add_argument("--teacher", type=Path, default=Path("../shared/models/mobilenet_v1_0.75_224"))
    # 96 per class: 960 photos, 15 full batches of 64, so validation adds no new kernel shapes
    # for Burn to autotune. The full val split is measured afterwards with `woofcam eval`.
    p.add_argument("--val-per-class", type=int, default=96)
    # 64 MiB per upload, less the working tree (about 5 MiB) and a margin.
    p.add_argument("--part-mib", type=int, default=56)
    p.add_argument("--init", type=Path, help="a model to go on from (NAME.bpk, NAME.json beside it)")
    args = p.parse_args()

    needed = [args.trainer, args.debs, args.data / "train", args.data / "val", args.teacher]
    if args.init:
        needed += [args.init, args.init.with_suffix(".json")]
    for path in needed:
        if not path.exists():
            sys.exit(f"pack.py: {path} does not exist")
    if args.out.exists():
        shutil.rmtree(args.out)
    budget = args.part_mib * 2**20

    first = args.out / "p1"
    first.mkdir(parents=True)
    with open(args.trainer, "rb") as src, gzip.open(first / "trainer.gz", "wb", compresslevel=6) as dst:
        shutil.copyfileobj(src, dst)
    for deb in sorted(args.debs.glob("*.deb")):
        shutil.copy(deb, first)
    with archive(first / "teacher.tar") as tar:
        tar.add(args.teacher, arcname=f"teacher/{args.teacher.name}")

    files = [(f, f"data/{f.relative_to(args.data)}") for f in sorted((args.data / "train").rglob("*")) if f.is_file()]
    for class_dir in sorted(d for d in (args.data / "val").iterdir() if d.is_dir()):
        photos = sorted(f for f in class_dir.iterdir() if f.is_file())[: args.val_per_class]
        files += [(f, f"data/{f.relative_to(args.data)}") for f in photos]
    photos = len(files)
    if args.init:
        for path in (args.init, args.init.with_suffix(".json")):
            if path.stat().st_size > budget - 2**20:
                sys.exit(f"pack.py: {path} does not fit in a part: export it in f16 (trainer export --precision f16)")
            files.append((path, f"init/{path.name}"))

    part, used = 1, sum(f.stat().st_size for f in first.iterdir())
    tar = archive(first / "data.tar")
    for path, name in files:
        size = 512 + -(-path.stat().st_size // 512) * 512  # a tar header, the data in 512-byte blocks
        if used + size + 20480 > budget:  # the archive's end blocks, rounded up to a record
            tar.close()
            part += 1
            (args.out / f"p{part}").mkdir()
            tar = archive(args.out / f"p{part}" / "data.tar")
            used = 0
        tar.add(path, arcname=name)
        used += size
    tar.close()
    for folder in sorted(args.out.iterdir()):
        mib = sum(f.stat().st_size for f in folder.iterdir()) / 2**20
        print(f"{folder}: {mib:.1f} MiB")
    print(f"{photos} photos{' and the --init model' if args.init else ''} in {part} parts")


if __name__ == "__main__":
    main()
