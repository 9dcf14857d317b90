"""Time K-option multiple-choice scoring with a shared image+prompt prefix on a small random-init VLM (CPU).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mcq_scoring.py [--k 5] [--repeats 7] [--hidden 256]``

Writes a small LLaVA-style model directory (CLIP vision tower at 224 px / patch 16 = 197 image tokens, Llama
LM), loads it with ``load_vlm("hf:<dir>")`` and times, as medians over ``--repeats`` runs after a warm-up:

- one prefix forward: the model on the encoded image + prompt with its KV cache and the next-token logits
  (processor output prepared beforehand), i.e. the first step of generating an answer;
- shared-prefix scoring: ``loglikelihood(image, prompt, options)`` (processor, prefix once, K options from
  the KV cache in one batched pass);
- naive scoring: ``loglikelihood(…, shared_prefix=False)``, one full forward per option.

Targets (issue 4): shared <= 1.5x one prefix forward, naive / shared >= 3.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch
from PIL import Image
from timing import median_seconds  # benchmarks/timing.py

from vlmrobust.models.hf_vlm import load_vlm
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=5, help="number of options (at most 7)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per measurement")
    parser.add_argument("--hidden", type=int, default=256, help="width of both towers")
    parser.add_argument("--layers", type=int, default=4, help="depth of both towers")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_tiny_llava(
            tmp, image_size=224, patch_size=16, hidden_size=args.hidden, num_layers=args.layers
        )
        vlm = load_vlm(f"hf:{path}")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8))
    prompt = "What type of object is in this photo? Answer with the option's letter from the given choices."
    options = OPTIONS[: args.k]
    enc = vlm.encode_prompt(image, prompt)
    prefix_tokens = enc["input_ids"].shape[1]
    option_tokens = [len(ids) for ids in vlm.continuation_ids(options, vlm.format_prompt(prompt))]

    shared_scores = vlm.loglikelihood(image, prompt, options)
    naive_scores = vlm.loglikelihood(image, prompt, options, shared_prefix=False)
    max_diff = float((shared_scores.sum - naive_scores.sum).abs().max())

    prefix = median_seconds(lambda: vlm.model(**enc, use_cache=True, logits_to_keep=1), args.repeats)
    shared = median_seconds(lambda: vlm.loglikelihood(image, prompt, options), args.repeats)
    naive = median_seconds(
        lambda: vlm.loglikelihood(image, prompt, options, shared_prefix=False), args.repeats
    )

    print(
        f"model: hidden {args.hidden}, {args.layers} layers/tower; prefix {prefix_tokens} tokens; "
        f"K={args.k} options of {option_tokens} tokens; torch threads {torch.get_num_threads()}"
    )
    print(f"max |shared - naive| summed log-prob: {max_diff:.2e}")
    print(f"one prefix forward     median {prefix * 1e3:8.1f} ms")
    print(
        f"shared-prefix scoring  median {shared * 1e3:8.1f} ms  ({shared / prefix:.2f}x one prefix forward)"
    )
    print(
        f"naive per-option       median {naive * 1e3:8.1f} ms  ({naive / shared:.2f}x shared-prefix scoring)"
    )
    ok = shared / prefix <= 1.5 and naive / shared >= 3
    print(f"targets (<= 1.5x prefix, >= 3x less than naive): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
