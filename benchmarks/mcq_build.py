"""Time building 50,000 5-way ``hierarchy`` MCQ questions (target: <= 10 s median).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mcq_build.py [--n 50000] [--repeats 5]``

Builds questions for an in-memory 50,000-image ImageNet val set (50 images per class; the builder never
opens images) with ``build_mcq`` (class x class WordNet distance matrix computed once, vectorised;
per-question work O(K)), and compares with the obvious alternative: per question, sort all classes by
their tree distance to the answer (random tie-break) and take the first K-1 allowed ones. Prints the
medians and the ratio; the cold run includes computing the distance matrix.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from vlmrobust.data.imagenet import ImageSet, Sample, imagenet_1k_classes
from vlmrobust.data.mcq import build_mcq, in1k_tree_distance
from vlmrobust.data.mcq.distance import _in1k_distance


def naive_hierarchy(labels: list[int], dist: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Per question: lexsort all classes by (distance, random key), drop the answer, keep k."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(labels), k), dtype=np.int64)
    for i, a in enumerate(labels):
        order = np.lexsort((rng.random(dist.shape[0]), dist[a]))  # (C,) nearest first, ties random
        out[i] = order[order != a][:k]
    return out


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="number of questions")
    parser.add_argument("--k", type=int, default=5, help="options per question")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method (median reported)")
    args = parser.parse_args()

    labels = [(n * 7919) % 1000 for n in range(args.n)]  # 50 images per class for n = 50,000
    samples = tuple(
        Sample(f"ILSVRC2012_val_{n + 1:08d}", f"/val/{n}.JPEG", (k,), (k,)) for n, k in enumerate(labels)
    )
    val = ImageSet("imagenet-val", "/val", samples, imagenet_1k_classes())

    _in1k_distance.cache_clear()
    start = time.perf_counter()
    bench = build_mcq(val, "hierarchy", num_options=args.k, num_questions=None, seed=0)
    cold = time.perf_counter() - start
    assert len(bench.questions) == args.n
    t_ours, runs, bench = median_seconds(
        lambda: build_mcq(val, "hierarchy", num_options=args.k, num_questions=None, seed=0), args.repeats
    )
    dist = in1k_tree_distance()
    t_naive, _, naive = median_seconds(
        lambda: naive_hierarchy(labels, dist, args.k - 1, 0), max(1, args.repeats // 2)
    )

    # both pick distractors at the same distances (ties may differ): same mean tree distance
    ours_mean = bench.stats["mean_tree_distance"]
    naive_mean = float(np.mean(dist[np.asarray(labels)[:, None], naive]))
    assert abs(ours_mean - naive_mean) < 1e-9, (ours_mean, naive_mean)

    print(f"{args.n} {args.k}-way hierarchy questions; runs (s): {', '.join(f'{t:.2f}' for t in runs)}")
    print(f"{'method':44s} {'median s':>9s} {'speed-up vs naive':>18s}")
    print(f"{'naive per-question sort of all classes':44s} {t_naive:9.3f} {1.0:18.2f}")
    print(f"{'build_mcq (warm distance matrix)':44s} {t_ours:9.3f} {t_naive / t_ours:18.2f}")
    print(f"{'build_mcq (cold: distance matrix included)':44s} {cold:9.3f} {t_naive / cold:18.2f}")
    print(
        f"mean tree distance: hierarchy {ours_mean:.3f} vs random {bench.stats['random_tree_distance']:.3f}"
    )
    print(f"target <= 10 s for {args.n} questions: {'PASS' if max(t_ours, cold) <= 10 else 'FAIL'}")


if __name__ == "__main__":
    main()
