"""Time multiple-choice likelihood scoring batched across questions on a small random-init LLaVA.

Run: ``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/mcq_batch_scoring.py [--batches 1 4 16] [--json out.json]``
(GPU: ``--device cuda --dtype bfloat16 --hidden 1024``).

Writes the LLaVA-style model of ``benchmarks/mcq_scoring.py`` (CLIP tower at 224 px / patch 16 = 197 image
tokens, Llama LM, ``--hidden`` wide, ``--layers`` deep), loads it with ``load_vlm("hf:<dir>")`` and, for each
batch size B (questions of different prompt lengths, one image each, K options), times as medians over
``--repeats`` interleaved rounds (each method once per round) after a warm-up round:

- (a) ``loglikelihood_batch(images, prompts, options)``: B prefixes left-padded in one forward, all B·K
  options from the expanded KV cache in a second;
- (b) one ``loglikelihood`` call per question (prefix once, its K options from its cache);
- (c) naive: ``loglikelihood(…, shared_prefix=False)`` per question, one full forward per option.

Prints questions/s, the ratios (a)/(b) and (a)/(c), the max |summed log-prob difference| of (a) against (b)
and (c), and peak CUDA memory per method on CUDA. Goals: (a)/(b) >= 1.5 at B = 16, (a)/(c) >= 5, difference
<= 1e-4 in float32.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

from vlmrobust.models.hf_vlm import HFGenerativeVLM, load_vlm
from vlmrobust.models.protocols import ContinuationScores
from vlmrobust.models.tiny_hf import write_tiny_llava

OPTIONS = [
    " A. circle",
    " B. square",
    " C. triangle",
    " D. star",
    " E. hexagon",
    " F. a red square",
    " G. dog",
]
QUESTIONS = [
    "What type of object is in this photo?",
    "What type of object is in this photo? Answer with the option's letter from the given choices.",
    "Which shape is it?",
    "Look at the image. Which of the following shapes does it show? Answer with the letter.",
]


def interleaved_medians(
    methods: dict[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, float]:
    """Median wall time of each method over ``repeats`` rounds, after one warm-up round (CUDA synchronised).

    Each round runs every method once, so load from other processes on a shared machine hits all alike.
    """
    times: dict[str, list[float]] = {name: [] for name in methods}
    for round_ in range(repeats + 1):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def max_difference(a: list[ContinuationScores], b: list[ContinuationScores]) -> float:
    """Largest |summed log-prob difference| over all questions and options."""
    return max(float((x.sum - y.sum).abs().max()) for x, y in zip(a, b, strict=True))


def bench_batch(vlm: HFGenerativeVLM, size: int, k: int, repeats: int) -> dict[str, Any]:
    """Questions/s of the three methods, their ratios and score differences for ``size`` questions."""
    rng = np.random.default_rng(size)
    images = [Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)) for _ in range(size)]
    prompts = [QUESTIONS[i % len(QUESTIONS)] for i in range(size)]
    options = [OPTIONS[i % 3 : i % 3 + k] for i in range(size)]  # shifted windows: option lengths differ
    questions = list(zip(images, prompts, options, strict=True))
    methods = {
        "batch": lambda: vlm.loglikelihood_batch(images, prompts, options),
        "per_question": lambda: [vlm.loglikelihood(i, p, o) for i, p, o in questions],
        "naive": lambda: [vlm.loglikelihood(i, p, o, shared_prefix=False) for i, p, o in questions],
    }
    scores = {name: fn() for name, fn in methods.items()}
    row: dict[str, Any] = {"questions": size}
    for name, seconds in interleaved_medians(methods, repeats, vlm.device).items():
        row[f"{name}_qps"] = size / seconds
    if vlm.device.type == "cuda":  # peak memory of one call of each method (weights included)
        for name, fn in methods.items():
            torch.cuda.reset_peak_memory_stats(vlm.device)
            fn()
            row[f"{name}_peak_mib"] = torch.cuda.max_memory_allocated(vlm.device) / 2**20
    row["batch_over_per_question"] = row["batch_qps"] / row["per_question_qps"]
    row["batch_over_naive"] = row["batch_qps"] / row["naive_qps"]
    row["max_diff_vs_per_question"] = max_difference(scores["batch"], scores["per_question"])
    row["max_diff_vs_naive"] = max_difference(scores["batch"], scores["naive"])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16], help="questions per batch")
    parser.add_argument("--k", type=int, default=5, help="options per question (at most 5)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (every method once each)")
    parser.add_argument("--hidden", type=int, default=256, help="width of both towers")
    parser.add_argument("--layers", type=int, default=4, help="depth of both towers")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32", help="parameter dtype")
    parser.add_argument(
        "--attn", choices=["sdpa", "flash_attention_2", "eager"], default="sdpa", help="backend"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="write the numbers to this JSON file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_tiny_llava(
            tmp, image_size=224, patch_size=16, hidden_size=args.hidden, num_layers=args.layers
        )
        vlm = load_vlm(
            f"hf:{path}", device=args.device, dtype=getattr(torch, args.dtype), attn_implementation=args.attn
        )
    rows = [bench_batch(vlm, size, args.k, args.repeats) for size in args.batches]
    setup = {
        "hidden": args.hidden,
        "layers": args.layers,
        "k": args.k,
        "device": str(vlm.device),
        "dtype": args.dtype,
        "attn": vlm.model.config._attn_implementation,
        "threads": torch.get_num_threads(),
        "repeats": args.repeats,
    }
    print(", ".join(f"{k} {v}" for k, v in setup.items()))
    print(
        f"{'B':>3} {'(a) batch q/s':>14} {'(b) per-q q/s':>14} {'(c) naive q/s':>14} {'a/b':>6} {'a/c':>6} {'max|diff|':>10}"
    )
    for r in rows:
        diff = max(r["max_diff_vs_per_question"], r["max_diff_vs_naive"])
        print(
            f"{r['questions']:>3} {r['batch_qps']:>14.2f} {r['per_question_qps']:>14.2f} {r['naive_qps']:>14.2f} "
            f"{r['batch_over_per_question']:>6.2f} {r['batch_over_naive']:>6.2f} {diff:>10.2e}"
            + (
                f"  peak MiB a/b/c {r['batch_peak_mib']:.0f}/{r['per_question_peak_mib']:.0f}/{r['naive_peak_mib']:.0f}"
                if "batch_peak_mib" in r
                else ""
            )
        )
    largest = max(rows, key=lambda r: r["questions"])
    worst = max(max(r["max_diff_vs_per_question"], r["max_diff_vs_naive"]) for r in rows)
    goals = {
        f"a/b >= 1.5 at B={largest['questions']}": largest["batch_over_per_question"] >= 1.5,
        f"a/c >= 5 at B={largest['questions']}": largest["batch_over_naive"] >= 5,
    }
    if args.dtype == "float32":
        goals["max|diff| <= 1e-4"] = worst <= 1e-4
    print("goals: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in goals.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"setup": setup, "rows": rows, "goals": goals}, f, indent=2)


if __name__ == "__main__":
    main()
