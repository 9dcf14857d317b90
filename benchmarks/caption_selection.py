"""Caption-selection throughput of ``CaptionSelection`` against a bare loop over the same tensors (CPU).

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/caption_selection.py [--items 512] [--batch 64] [--repeats 5]``

A tiny random-init open_clip model scores What'sUp-style items (one image, four caption options). Both
paths start from the same pre-collated batches (image tensors [B, 3, H, W] and B lists of four captions):

- protocol: ``CaptionSelection.predict`` (tokenise, encode, cosines, the benchmark's tie rule, per-sample
  records with scores and meta);
- bare loops: encode images and tokenised texts, normalise, einsum, argmax, once with the adapter's
  ``encode_image`` / ``encode_text`` (which drop the padding columns a causal text tower never reads: the
  protocol's own overhead) and once with open_clip's ``model.encode_image`` / ``model.encode_text`` on the full
  77-token context.

Prints the median seconds of each over ``--repeats`` runs (after a warm-up), items/s and the ratio;
the issue's target is protocol / bare <= 1.10. Results of both paths are checked to agree.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from timing import median_seconds  # benchmarks/timing.py

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.protocols import CaptionSelection
from vlmrobust.models.registry import load_scorer

RELATIONS = ("to the left of", "to the right of", "on", "under")
OBJECTS = ("mug", "book", "lamp", "cup", "phone", "plant", "bowl", "clock")


def make_batches(n: int, batch: int, size: int) -> list[dict]:
    """Pre-collated What'sUp-style batches: images, four caption options each, answers and meta."""
    gen = torch.Generator().manual_seed(0)
    batches = []
    for start in range(0, n, batch):
        b = min(batch, n - start)
        texts = []
        for i in range(start, start + b):
            a, c = OBJECTS[i % len(OBJECTS)], OBJECTS[(i // len(OBJECTS) + 1 + i) % len(OBJECTS)]
            texts.append([f"A {a} {r} a {c}" for r in RELATIONS])
        batches.append({
            "image": torch.rand(b, 3, size, size, generator=gen), "texts": texts, "answer": torch.zeros(b, dtype=torch.long),
            "label": torch.zeros(b, dtype=torch.long), "index": torch.arange(start, start + b),
            "meta": [{"group": f"g{i // 4}", "relation": "left", "opposite": 1} for i in range(start, start + b)],
        })  # fmt: skip
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=512, help="items scored per run")
    parser.add_argument("--batch", type=int, default=64, help="items per batch")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per path")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.set_grad_enabled(False)
    scorer = load_scorer("open_clip:vlmrobust-tiny-clip", seed=0).eval()
    size = scorer.preprocess.transforms[0].size if hasattr(scorer.preprocess, "transforms") else 32
    size = size if isinstance(size, int) else size[0]
    batches = make_batches(args.items, args.batch, size)
    info = EvalSetInfo(name="bench", class_names=(), templates=(), id_set=None, num_samples=args.items,
                       task="captions", num_options=4, benchmark="whatsup")  # fmt: skip
    proto = CaptionSelection()
    model = scorer.model

    def protocol() -> list[int]:
        return [p for b in batches for p in proto.predict(scorer, info, b).pred.tolist()]

    def bare(encode_image: Callable, encode_text: Callable) -> Callable[[], list[int]]:
        def run() -> list[int]:
            out = []
            for b in batches:
                img = F.normalize(encode_image(b["image"]), dim=-1)  # [B, D]
                flat = [t for opts in b["texts"] for t in opts]
                txt = F.normalize(encode_text(scorer.tokenize(flat)), dim=-1)
                out += torch.einsum("bd,bkd->bk", img, txt.reshape(len(b["texts"]), 4, -1)).argmax(1).tolist()
            return out

        return run

    backend = bare(model.encode_image, model.encode_text)  # open_clip's own forwards (77-token context)
    adapter = bare(scorer.encode_image, scorer.encode_text)  # the adapter's forwards (padding trimmed)
    assert protocol() == backend() == adapter(), "protocol and bare loops disagree"
    t_proto = median_seconds(protocol, args.repeats)
    t_backend = median_seconds(backend, args.repeats)
    t_adapter = median_seconds(adapter, args.repeats)
    print(f"items={args.items} batch={args.batch} options=4 image={size}px threads=2 repeats={args.repeats}")
    rows = (("protocol", t_proto), ("bare loop, adapter forwards", t_adapter),
            ("bare loop, open_clip forwards", t_backend))  # fmt: skip
    for name, t in rows:
        print(f"{name:<30} median {t:.4f} s  ({args.items / t:,.0f} items/s)")
    print(f"ratio protocol / bare, adapter forwards (the protocol's own overhead) = {t_proto / t_adapter:.3f}"
          " (target <= 1.10)")  # fmt: skip
    print(f"ratio protocol / bare, open_clip forwards = {t_proto / t_backend:.3f}")


if __name__ == "__main__":
    main()
