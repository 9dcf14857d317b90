"""Time indexing a synthetic 50,000-file ImageNet val tree (target: <= 5 s median).

Run: ``.venv/bin/python benchmarks/imagenet_index.py [--n 50000] [--repeats 5] [--root DIR]``

Builds ``<root>/<wnid>/ILSVRC2012_val_XXXXXXXX.JPEG`` (empty files: indexing never opens images) plus the
flat-with-devkit and Kaggle layouts of the same images, then times ``read_imagenet_val`` on each layout
(median of ``--repeats`` runs, warm file-system cache) against the obvious alternative: a recursive
``pathlib`` walk that stats every path (what a naive ``rglob`` + ``is_file`` indexer does), plus the
wnid -> label lookup. Prints the medians and the ratio.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import read_imagenet_val
from vlmrobust.data.imagenet.metadata import wnid_to_index


def naive_index(root: Path) -> list[tuple[str, int]]:
    """The obvious alternative: walk with pathlib, stat each entry, label from the parent folder."""
    index = wnid_to_index()
    return [(str(p), index[p.parent.name]) for p in sorted(root.rglob("*")) if p.is_file()]


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="number of val images")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method (median reported)")
    parser.add_argument(
        "--root", type=Path, default=None, help="where to build the trees (default: a temp dir)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.root) as tmp:
        base = Path(tmp)
        labels = {n: (n * 7919) % 1000 for n in range(1, args.n + 1)}  # 50 images per class for n = 50,000
        start = time.perf_counter()
        folders = fx.write_val_folders(base / "val", labels, content=b"")
        flat, _ = fx.write_val_devkit(base / "flat", labels, content=b"")
        kaggle = fx.write_val_kaggle(base / "kaggle", labels, content=b"")
        print(f"built 3 layouts x {args.n} files in {time.perf_counter() - start:.1f} s")

        t_naive, naive = median_seconds(lambda: naive_index(folders), args.repeats)
        rows = []
        for layout, root in (("folders", folders), ("devkit", flat), ("kaggle", kaggle)):
            t, got = median_seconds(lambda r=root, lay=layout: read_imagenet_val(r, layout=lay), args.repeats)
            assert len(got) == args.n and [s.label for s in got] == [labels[n] for n in sorted(labels)]
            rows.append((layout, t))
        assert len(naive) == args.n

        print(f"{'method':38s} {'median s':>9s} {'ratio vs naive':>15s}")
        print(f"{'naive pathlib rglob + stat (folders)':38s} {t_naive:9.3f} {1.0:15.2f}")
        for layout, t in rows:
            print(f"{'read_imagenet_val layout=' + layout:38s} {t:9.3f} {t_naive / t:15.2f}")
        t_folders = rows[0][1]
        print(f"target <= 5 s for {args.n} files (folders layout): {'PASS' if t_folders <= 5 else 'FAIL'}")


if __name__ == "__main__":
    main()
