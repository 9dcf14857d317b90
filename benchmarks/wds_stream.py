"""Streaming decode throughput from WebDataset shards vs plain PIL decode of the same files (target >= 80 %).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/wds_stream.py [--n 2000] [--size 320x240] [--repeats 5]``

Writes an ImageNet val tree of ``--n`` distinct JPEGs (smooth gradients plus noise, ImageNet-like sizes),
exports it with ``export_webdataset`` (500 images per shard), then times, single process, warm page
cache: (a) the plain path, ``load_image`` (PIL open + full RGB decode) over every file of the indexed set,
(b) iterating ``WebDatasetStream`` over the shards (tar read + json parse + the same decode), and (c) the
same through the ``webdataset`` library (``pipe:cat`` URLs). Prints median images/s of each and the
ratio to plain.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import load_image, metadata, read_imagenet_val
from vlmrobust.data.interop import WebDatasetStream, export_webdataset


def write_tree(root: Path, n: int, size: tuple[int, int], seed: int = 0) -> None:
    """``root/<wnid>/ILSVRC2012_val_XXXXXXXX.JPEG``: n distinct JPEGs (quality 90)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    wnids = metadata.wnids()
    for number in range(1, n + 1):
        base = rng.integers(0, 256, size=3)
        img = (base + 0.5 * xx[..., None] + 0.3 * yy[..., None] + rng.normal(0, 12, (h, w, 3))) % 256
        buf = io.BytesIO()
        Image.fromarray(img.astype(np.uint8)).save(buf, format="JPEG", quality=90)
        path = root / wnids[number % 1000] / fx.val_name(number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue())


def median_rate(fn: Callable[[], int], repeats: int) -> tuple[float, list[float]]:
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates), rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of images")
    parser.add_argument("--size", default="320x240", help="image size WxH")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per method (median reported)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        write_tree(base / "val", args.n, size)  # type: ignore[arg-type]
        val = read_imagenet_val(base / "val")
        shards = export_webdataset(val, base / "wds", shard_size=500)
        mb = sum(s.stat().st_size for s in shards) / 1e6
        print(f"{args.n} JPEGs {args.size}, {len(shards)} shards, {mb:.1f} MB")

        def plain() -> int:
            for s in val:
                load_image(s.path).size  # noqa: B018  (full decode happens in load_image)
            return len(val)

        def stream() -> int:
            return sum(1 for _ in WebDatasetStream(shards))

        def stream_wds_library() -> int:  # the same items read through the webdataset library
            return sum(1 for _ in WebDatasetStream([f"pipe:cat {s}" for s in shards]))

        plain(), stream()  # warm the page cache and imports
        r_plain, runs_plain = median_rate(plain, args.repeats)
        r_stream, runs_stream = median_rate(stream, args.repeats)
        r_lib, _ = median_rate(stream_wds_library, args.repeats)

    print(f"plain PIL runs (img/s):  {', '.join(f'{r:.0f}' for r in runs_plain)}")
    print(f"wds stream runs (img/s): {', '.join(f'{r:.0f}' for r in runs_stream)}")
    print(f"{'method':34s} {'median img/s':>13s} {'ratio vs plain':>15s}")
    print(f"{'plain PIL decode (load_image)':34s} {r_plain:13.0f} {1.0:15.2f}")
    print(f"{'WebDatasetStream (tar shards)':34s} {r_stream:13.0f} {r_stream / r_plain:15.2f}")
    print(f"{'same, via webdataset library (pipe:)':34s} {r_lib:13.0f} {r_lib / r_plain:15.2f}")
    print(f"target >= 0.80 of plain PIL: {'PASS' if r_stream / r_plain >= 0.8 else 'FAIL'}")


if __name__ == "__main__":
    main()
