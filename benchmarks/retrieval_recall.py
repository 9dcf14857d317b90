"""Time chunked retrieval ranks + recall@K against a dense full-matrix reference (CPU, random embeddings).

Run: ``.venv/bin/python benchmarks/retrieval_recall.py [--captions 25000] [--images 5000] [--threads 2]``

COCO-sized retrieval (25,000 captions, 5 per image, 5,000 images; random 512-d float32 unit embeddings,
seeded). Times, as medians over ``--repeats`` runs after a warm-up:

- ours: ``retrieval_ranks`` (blocks of ``--chunk`` captions) + ``recall_at_k`` in both directions;
- dense: CLIP_benchmark's way, the full [T, I] score matrix and ``torch.topk`` (K = 10) in both directions.

Checks that both give identical per-item hits for K in (1, 5, 10) and identical 0-based ranks wherever the
gold is in the dense top 10, and prints the ratio and peak memory: the growth of the process's peak RSS
(``ru_maxrss``) during each method above the peak of the setup (ours runs first, so the dense growth is
measured above the same base; a growth smaller than the setup's own peak shows as ~0) and the analytic
size of one score block.

Target (issue): ours under 2 s with 2 threads.
"""

from __future__ import annotations

import argparse
import resource

import torch
from timing import median_seconds  # benchmarks/timing.py
from torch import Tensor

from vlmrobust.eval.metrics.retrieval import recall_at_k, retrieval_ranks

KS = (1, 5, 10)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(image: Tensor, text: Tensor, text_image: Tensor, chunk: int) -> tuple[Tensor, Tensor]:
    """Chunked ranks and recall@K in both directions; returns the ranks."""
    t2i, i2t = retrieval_ranks(image, text, text_image, chunk=chunk)
    recall_at_k(t2i, KS), recall_at_k(i2t, KS)
    return t2i, i2t


def dense(image: Tensor, text: Tensor, text_image: Tensor) -> tuple[Tensor, Tensor]:
    """Position of the gold in the top 10 of the full score matrix (10 = not there), both directions."""
    scores = text @ image.T  # [T, I]
    k = max(KS)
    top = torch.topk(scores, k, dim=1).indices  # [T, k]
    hit = top == text_image[:, None]
    t2i = torch.where(hit.any(1), hit.int().argmax(1), k)
    top = torch.topk(scores.T, k, dim=1).indices  # [I, k]
    own = text_image[top] == torch.arange(image.shape[0])[:, None]
    i2t = torch.where(own.any(1), own.int().argmax(1), k)
    return t2i, i2t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=25_000, help="number of captions T")
    parser.add_argument("--images", type=int, default=5_000, help="number of images I")
    parser.add_argument("--dim", type=int, default=512, help="embedding width")
    parser.add_argument("--chunk", type=int, default=256, help="captions per score block")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    g = torch.Generator().manual_seed(0)
    image = torch.nn.functional.normalize(torch.randn(args.images, args.dim, generator=g), dim=1)
    text = torch.nn.functional.normalize(torch.randn(args.captions, args.dim, generator=g), dim=1)
    text_image = (torch.arange(args.captions) % args.images)[torch.randperm(args.captions, generator=g)]

    base = peak_rss_mib()
    t2i, i2t = ours(image, text, text_image, args.chunk)
    ours_rss = peak_rss_mib() - base
    ref_t2i, ref_i2t = dense(image, text, text_image)
    dense_rss = peak_rss_mib() - base
    k = max(KS)
    assert torch.equal(t2i.clamp(max=k), ref_t2i) and torch.equal(i2t.clamp(max=k), ref_i2t), "results differ"
    for name, ranks in (("text->image", t2i), ("image->text", i2t)):
        recall = recall_at_k(ranks, KS)
        print(f"{name} recall@{KS}: " + ", ".join(f"{recall[k].correct}/{recall[k].n}" for k in KS))
    print("identical per-item hits and top-10 ranks: yes")

    t_ours = median_seconds(lambda: ours(image, text, text_image, args.chunk), args.repeats)
    t_dense = median_seconds(lambda: dense(image, text, text_image), args.repeats)
    block_mib = args.chunk * args.images * 4 / 2**20
    full_mib = args.captions * args.images * 4 / 2**20
    print(
        f"{args.captions} captions x {args.images} images, dim {args.dim}; torch threads "
        f"{torch.get_num_threads()}; median of {args.repeats}"
    )
    print(f"ours (chunk {args.chunk})  median {t_ours:6.3f} s   peak RSS +{ours_rss:7.1f} MiB "
          f"(one float32 block {block_mib:.1f} MiB)")  # fmt: skip
    print(f"dense (full + topk)  median {t_dense:6.3f} s   peak RSS +{dense_rss:7.1f} MiB "
          f"(full float32 matrix {full_mib:.1f} MiB)")  # fmt: skip
    print(f"ratio dense / ours: {t_dense / t_ours:.2f}x")
    print(f"target (ours < 2 s): {'met' if t_ours < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
