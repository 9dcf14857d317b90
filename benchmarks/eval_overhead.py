"""Share of ``vlmrobust eval``'s wall time spent on the results store and bookkeeping, on a tiny model.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/eval_overhead.py [--samples 2000] [--repeats 3]``

The tiny random-init CLIP (``open_clip:vlmrobust-tiny-clip``) answers the procedural world's ID set and
two shifts (``--samples`` images each, pre-rendered once so image generation is not timed) by zero-shot
classification and by 5-way MCQ option prompts, into a fresh store each run. The runner reports the time
in store reads and writes (resume checks, chunk commits, reading records back, cells) and in prediction
(data loading + model); the script prints medians over ``--repeats`` runs and the store share of the
whole ``evaluate`` call (target: <= 5 %).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.eval.models import ModelEntry
from vlmrobust.eval.protocols import MCQByPrompt, ZeroShotClassification
from vlmrobust.eval.runner import EvalData, EvalRunner


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="images per eval set")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs")
    parser.add_argument("--chunk-size", type=int, default=512, help="samples per committed chunk")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = ModelEntry("open_clip:vlmrobust-tiny-clip", seed=0)
    kw = {"seed": 0, "eval_size": args.samples, "shifts": ("sketch", "pose")}
    classification = EvalData(WorldDataModule(**kw))
    mcq = EvalData(WorldDataModule(mode="mcq", **kw))
    for data in (classification, mcq):  # render and cache every image once
        for _, ds in data.pairs:
            for i in range(len(ds)):
                ds[i]
    totals, stores, predicts = [], [], []
    for _ in range(args.repeats + 1):  # the first run warms up
        with tempfile.TemporaryDirectory() as tmp:
            runner = EvalRunner(str(Path(tmp) / "r.db"), run="bench", batch_size=256,
                                chunk_size=args.chunk_size, progress=False)  # fmt: skip
            t = runner.evaluate([model], classification, [ZeroShotClassification()]).times
            m = runner.evaluate([model], mcq, [MCQByPrompt()]).times
        totals.append(t.total + m.total)
        stores.append(t.store + m.store)
        predicts.append(t.predict + m.predict)
    total, store, predict = (statistics.median(x[1:]) for x in (totals, stores, predicts))
    n = 2 * 3 * args.samples
    print(
        f"{n} predictions (3 sets x {args.samples} x 2 protocols), chunk {args.chunk_size}, {args.threads} threads"
    )
    print(f"evaluate wall {total:.3f} s, predict {predict:.3f} s, store + bookkeeping {store:.3f} s")
    print(f"store share {100 * store / total:.2f} % of wall time (target <= 5 %)")


if __name__ == "__main__":
    main()
