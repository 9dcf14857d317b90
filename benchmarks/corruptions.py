"""ImageNet-C corruption cost, and evaluating a cached corrupted set vs the same set uncorrupted (<= 1.10x).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/corruptions.py [--threads 2] [--n 8] [--eval-n 1000]
[--repeats 5]``

(1) Generation: median images/s of ``corrupt`` (imagecorruptions underneath) for each of the 15 corruptions
at severity 3 on ``--n`` distinct 224 px images, OpenCV and torch limited to ``--threads`` (OpenMP by the
environment).
(2) Evaluation: one pass of a DataLoader (batch 64, the eval transform to tensors, single process) over
(a) the uncorrupted set (iterating the base dataset) and (b) the same set corrupted and cached with
``cache_corrupted`` (shards of PNGs), for an ImageNet-style set (``--eval-n`` 224 px JPEGs read by
``ImageNetEvalDataset``, ``ResizeCenterCrop(224)``; cache at PNG level 0, the default, and 6) and the world
(32 px ``LabelledDataset``, generated on access, ``to_tensor``). Prints medians and the ratio cached / plain.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from timing import median_seconds
from torch.utils.data import DataLoader, Dataset

from vlmrobust.data.corruptions import CORRUPTIONS, CorruptedDataset, cache_corrupted, corrupt
from vlmrobust.data.datamodules import ResizeCenterCrop
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import metadata, read_imagenet_val
from vlmrobust.data.imagenet.dataset import ImageNetEvalDataset
from vlmrobust.data.world import CLASS_NAMES, LabelledDataset, ProceduralWorld, to_tensor


def image(seed: int, size: int = 224) -> Image.Image:
    """A distinct natural-ish image: a colour gradient plus noise (as benchmarks/wds_stream.py)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    arr = (
        rng.integers(0, 256, 3)
        + 0.5 * xx[..., None]
        + 0.3 * yy[..., None]
        + rng.normal(0, 12, (size, size, 3))
    )
    return Image.fromarray((arr % 256).astype(np.uint8))


def write_val(root: Path, n: int) -> None:
    """``root/<wnid>/ILSVRC2012_val_XXXXXXXX.JPEG``: n distinct 224 px JPEGs (quality 90)."""
    wnids = metadata.wnids()
    for number in range(1, n + 1):
        buf = io.BytesIO()
        image(number).save(buf, format="JPEG", quality=90)
        path = root / wnids[number % 1000] / fx.val_name(number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())


def one_pass(dataset: Dataset) -> int:
    """Iterate one eval pass (batches of 64, single process) and return the number of images."""
    return sum(len(batch["index"]) for batch in DataLoader(dataset, batch_size=64))


def generation(n: int, repeats: int) -> None:
    images = [image(10_000 + k) for k in range(n)]
    print(f"(1) corrupt() on {n} distinct 224 px images, severity 3, median of {repeats}")
    print(f"{'corruption':20s} {'img/s':>8s} {'ms/img':>8s}")
    for name in CORRUPTIONS:

        def run(name: str = name) -> None:
            for k, im in enumerate(images):
                corrupt(im, name, 3, 0, f"bench/{k}")

        seconds = median_seconds(run, repeats)
        print(f"{name:20s} {n / seconds:8.1f} {1000 * seconds / n:8.1f}")


def compare(title: str, plain: Dataset, cached: Dataset, repeats: int) -> None:
    """Median pass times of both sets, measured alternately (so load from other processes hits both)."""
    times: dict[str, list[float]] = {"plain": [], "cached": []}
    for _ in range(repeats):
        for key, dataset in (("plain", plain), ("cached", cached)):
            times[key].append(median_seconds(lambda dataset=dataset: one_pass(dataset), 1))
    t_plain, t_cached = statistics.median(times["plain"]), statistics.median(times["cached"])
    n, ratio = len(plain), t_cached / t_plain
    verdict = "PASS" if ratio <= 1.10 else "FAIL"
    print(f"{title:48s} {n / t_plain:9.0f} {n / t_cached:10.0f} {ratio:7.2f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="OpenCV / torch threads")
    parser.add_argument("--n", type=int, default=8, help="images per corruption in the generation timing")
    parser.add_argument("--eval-n", type=int, default=1000, help="images of the evaluated sets")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median reported)")
    parser.add_argument("--corruption", default="fog", help="corruption of the cached sets")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    generation(args.n, max(1, args.repeats // 2))

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_val(base / "val", args.eval_n)
        val = ImageNetEvalDataset(read_imagenet_val(base / "val"), transform=ResizeCenterCrop(224))
        world = LabelledDataset(ProceduralWorld(0, 32), "id", "eval", args.eval_n, to_tensor)
        world_info = EvalSetInfo("world/id", CLASS_NAMES, ("a photo of a {}.",), None, args.eval_n)
        sets = [
            ("imagenet-style 224 px JPEG, PNG level 0", val, {}, 0),
            ("imagenet-style 224 px JPEG, PNG level 6", val, {}, 6),
            ("world 32 px (generated), PNG level 0", world, {"info": world_info}, 0),
        ]
        rows = []
        for title, plain, kw, level in sets:
            corrupted = CorruptedDataset(plain, args.corruption, 3, **kw)
            cached = cache_corrupted(corrupted, base / f"cache{level}-{len(rows)}", compress_level=level)
            mb = sum(s.stat().st_size for s in cached.shards) / 1e6
            rows.append((title, plain, cached, mb))
        print(
            f"\n(2) one eval pass over {args.eval_n} images ({args.corruption}/3 cached), median of {args.repeats}"
        )
        print(
            f"{'set':48s} {'plain/s':>9s} {'cached/s':>10s} {'ratio':>7s}  (cached time / plain time <= 1.10)"
        )
        for title, plain, cached, mb in rows:
            compare(f"{title} ({mb:.0f} MB)", plain, cached, args.repeats)


if __name__ == "__main__":
    main()
