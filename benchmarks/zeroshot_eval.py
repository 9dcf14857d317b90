"""Zero-shot classification throughput: ``vlmrobust eval``'s runner vs clip_benchmark vs a bare image-tower loop.

Run: ``uv run --group bench python benchmarks/zeroshot_eval.py [--images 2000] [--repeats 3] [--threads 2]``

One random-init ``open_clip:ViT-B-32`` (no weights needed), 2,000 synthetic 224 px images decoded to
tensors once (the same tensors for every path), batch size 64, ``--threads`` torch threads, fp32 CPU:

- runner: ``EvalRunner.evaluate`` with ``ZeroShotClassification`` into a fresh SQLite store (chunked commits
  of per-sample predictions, top-5, cells), the full path of ``vlmrobust eval`` after model loading (the
  loaded model is passed in, as clip_benchmark gets it);
- clip_benchmark: ``zero_shot_classifier`` + ``run_classification`` of
  ``clip_benchmark.metrics.zeroshot_classification`` (PyPI ``clip-benchmark``; what its ``evaluate`` runs) on
  the same model, data, class names and templates, ``amp=False``;
- bare loop: only ``model.encode_image`` over the pre-decoded batches (no text tower, no argmax, no store).

Prints medians over ``--repeats`` interleaved rounds (after a warm-up round), the ratios runner/clip_benchmark and
runner/bare loop (targets: >= 1.0 and >= 0.90), and checks both evaluators give the same top-1 accuracy.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.models import ModelEntry
from vlmrobust.eval.protocols import ZeroShotClassification
from vlmrobust.eval.runner import EvalData, EvalRunner

CLASSES = tuple(f"class {i}" for i in range(100))
TEMPLATES = ("a photo of a {}.", "a drawing of a {}.")


class TensorSet(Dataset):
    """Pre-decoded images as eval items (``transform`` is accepted and unused: images are model-ready)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels, self.transform = images, labels, None

    def __len__(self) -> int:
        return len(self.labels)

    def sample_id(self, i: int) -> str:
        return f"bench/{i}"

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {"image": self.images[i], "label": int(self.labels[i]), "index": i}


class TupleSet(Dataset):
    """The same tensors as ``(image, label)`` pairs, clip_benchmark's batch format."""

    def __init__(self, base: TensorSet) -> None:
        self.base = base
        self.classes = list(CLASSES)  # clip_benchmark reads the class list from the dataset

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.base.images[i], int(self.base.labels[i])


class OneSet:
    """A minimal DataModule stand-in: one eval set of pre-decoded tensors."""

    def __init__(self, dataset: TensorSet) -> None:
        self.eval_datasets = [dataset]
        self.eval_sets = [EvalSetInfo("bench", CLASSES, TEMPLATES, None, len(dataset))]

    def setup(self, stage: str | None = None) -> None:
        """Nothing to index."""


def interleaved_medians(
    methods: dict[str, Callable[[], object]], repeats: int
) -> dict[str, tuple[float, object]]:
    """Median wall time and last result of each method over ``repeats`` rounds (each method once per round,
    so drifting machine load hits every method alike), after one warm-up round."""
    results = {name: fn() for name, fn in methods.items()}
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), results[name]) for name in methods}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000, help="number of synthetic images")
    parser.add_argument("--batch-size", type=int, default=64, help="images per forward")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from clip_benchmark.metrics import zeroshot_classification as cb

    from vlmrobust.models.registry import load_scorer

    spec = "open_clip:ViT-B-32"
    scorer = load_scorer(spec, seed=0).eval()
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(args.images, 3, 224, 224, generator=gen)
    labels = torch.randint(len(CLASSES), (args.images,), generator=gen)
    data = TensorSet(images, labels)
    entry = ModelEntry(spec, seed=0)

    def runner() -> float:
        with tempfile.TemporaryDirectory() as tmp:
            ev = EvalRunner(str(Path(tmp) / "r.db"), run="bench", batch_size=args.batch_size, chunk_size=512,
                            progress=False)  # fmt: skip
            report = ev.evaluate([entry], EvalData(OneSet(data)), [ZeroShotClassification()], {spec: scorer})
            runner.store_share = report.times.store / report.times.total  # type: ignore[attr-defined]
            return next(c.value for c in report.cells if c.metric == "top1")

    def clip_benchmark() -> float:
        # clip_benchmark's zero-shot path: its classifier, then its classification loop. Its `evaluate`
        # wrapper is not called: its metric helper fails under numpy 2 (float() of a 1-element array).
        loader = DataLoader(TupleSet(data), batch_size=args.batch_size, shuffle=False)
        cb_templates = [t.replace("{}", "{c}") for t in TEMPLATES]  # clip_benchmark formats "{c}"
        classifier = cb.zero_shot_classifier(scorer.model, scorer.tokenizer, list(CLASSES), cb_templates, "cpu",
                                             amp=False)  # fmt: skip
        logits, target = cb.run_classification(scorer.model, classifier, loader, "cpu", amp=False)
        return float((logits.argmax(1) == target).double().mean())

    def bare() -> None:
        with torch.inference_mode():
            for start in range(0, args.images, args.batch_size):
                scorer.model.encode_image(images[start : start + args.batch_size])

    timed = interleaved_medians(
        {"runner": runner, "clip_benchmark": clip_benchmark, "bare": bare}, args.repeats
    )
    (t_runner, acc_runner), (t_cb, acc_cb), (t_bare, _) = timed.values()
    n = args.images
    print(f"{n} images, batch {args.batch_size}, {args.threads} threads, {spec} (random init), fp32 CPU")
    print(f"runner          {t_runner:7.2f} s  {n / t_runner:7.1f} img/s  top-1 {acc_runner:.4f}  "
          f"(store + bookkeeping {100 * runner.store_share:.1f} % of its wall time)")  # type: ignore[attr-defined]  # fmt: skip
    print(f"clip_benchmark  {t_cb:7.2f} s  {n / t_cb:7.1f} img/s  top-1 {acc_cb:.4f}")
    print(f"bare loop       {t_bare:7.2f} s  {n / t_bare:7.1f} img/s")
    print(f"throughput ratio runner / clip_benchmark = {t_cb / t_runner:.3f} (target >= 1.0)")
    print(f"throughput ratio runner / bare loop      = {t_bare / t_runner:.3f} (target >= 0.90)")
    print(f"same top-1 accuracy: {abs(acc_runner - acc_cb) < 1e-9}")


if __name__ == "__main__":
    main()
