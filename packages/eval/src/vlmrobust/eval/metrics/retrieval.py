"""Image-text retrieval ranks and recall@K (CLIP_benchmark ``zeroshot_retrieval``), without a full score matrix.

Text→image: each caption's rank of its image among all images. Image→text: each image's best rank among
all captions of any of its own captions, so recall@K counts an image as a hit when one of its captions is
in its top K. Ranks are 0-based; an item ranks ahead of the gold one when its score is higher, or equal
with a lower index (ties go to the lowest index, the rule of DESIGN's retrieval semantics).

The scores are dot products in float32, computed in blocks of ``chunk`` captions [chunk, I], so memory is
O(chunk·I) instead of the O(T·I) of a full score matrix. Each block is computed twice: pass 1 takes each
caption's own score and counts the images above it, which gives each image's best own score; pass 2 counts
both directions' ranks against those scores. Comparisons only ever meet bit-identical values: pass 2
checks that it recomputed every own score exactly, and every block has the same shape (the last one
overlaps its predecessor) because BLAS may pick another kernel for a short tail block, changing last bits.
Both passes do one or two comparisons per score; ties (rare with float scores) are resolved on the few
rows or columns that have them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from vlmrobust.eval.metrics.accuracy import Accuracy


def _blocks(image: Tensor, text: Tensor, chunk: int) -> Iterator[tuple[int, Tensor]]:
    """``(start, scores)`` of consecutive caption blocks: ``scores`` [rows, I] for captions ``start:start+rows``."""
    t = text.shape[0]
    for start in range(0, t, chunk):
        lo = max(min(start, t - chunk), 0)  # a full-size block ending at the last caption
        block = text[lo : lo + chunk].float() @ image.T  # [chunk, I]
        yield start, block[start - lo :]


def _check(image_emb: Tensor, text_emb: Tensor, text_image: Tensor, chunk: int) -> None:
    if image_emb.ndim != 2 or text_emb.ndim != 2 or image_emb.shape[1] != text_emb.shape[1]:
        raise ValueError(
            f"embeddings must be [I, D] and [T, D], got image {tuple(image_emb.shape)} "
            f"and text {tuple(text_emb.shape)}"
        )
    if text_image.shape != (text_emb.shape[0],) or text_image.dtype != torch.long:
        raise ValueError(
            f"text_image must be a long tensor [{text_emb.shape[0]}] (the image of each caption), "
            f"got {text_image.dtype} {tuple(text_image.shape)}"
        )
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    num_images = image_emb.shape[0]
    if text_image.numel() and (text_image.min() < 0 or text_image.max() >= num_images):
        raise ValueError(
            f"text_image must lie in [0, {num_images}), got [{text_image.min()}, {text_image.max()}]"
        )
    uncaptioned = torch.bincount(text_image.cpu(), minlength=num_images) == 0
    if uncaptioned.any():
        raise ValueError(f"image(s) {uncaptioned.nonzero().reshape(-1)[:5].tolist()} have no caption")


def retrieval_ranks(
    image_emb: Tensor, text_emb: Tensor, text_image: Tensor, chunk: int = 256
) -> tuple[Tensor, Tensor]:
    """0-based retrieval ranks in both directions, by dot product, ties to the lowest index.

    Args:
        image_emb: image embeddings [I, D] (normalised for cosine scores).
        text_emb: caption embeddings [T, D], on the same device.
        text_image: the image of each caption [T] (long); every image needs at least one caption.
        chunk: captions per score block; peak extra memory is about ``chunk · I`` float32 scores.

    Returns:
        ``(t2i, i2t)``: ``t2i`` [T] the rank of each caption's image among all I images; ``i2t`` [I] the
        best rank, among all T captions, of any of the image's own captions (int64).
    """
    _check(image_emb, text_emb, text_image, chunk)
    image = image_emb.float()
    device = image.device
    num_images, num_texts = image.shape[0], text_emb.shape[0]
    cols = torch.arange(num_images, device=device)
    caption = torch.arange(num_texts, device=device)
    gold = torch.empty(num_texts, dtype=torch.float32, device=device)  # each caption's own score
    above = torch.empty(num_texts, dtype=torch.long, device=device)  # images scoring higher than it
    for start, s in _blocks(image, text_emb, chunk):
        rows = slice(start, start + s.shape[0])
        g = s.gather(1, text_image[rows, None])  # [rows, 1]
        gold[rows] = g[:, 0]
        above[rows] = (s > g).sum(1, dtype=torch.int32)
    # a NaN or infinite embedding shows in the own score of its caption, or of every caption of its image
    bad = ~torch.isfinite(gold)
    if bad.any():
        raise ValueError(
            f"caption(s) {bad.nonzero().reshape(-1)[:5].tolist()} score their own image NaN or "
            f"infinite: the caption's or the image's embedding is not finite"
        )
    # each image's best own score, the first caption reaching it, and the next float below it
    best = torch.full((num_images,), float("-inf"), device=device)
    best = best.scatter_reduce(0, text_image, gold, reduce="amax")
    first = torch.full((num_images,), num_texts, device=device)
    first = first.scatter_reduce(
        0, text_image, torch.where(gold == best[text_image], caption, num_texts), "amin"
    )
    below = torch.nextafter(best, torch.full_like(best, float("-inf")))  # s > below  <=>  s >= best

    t2i = above.clone()
    i2t = torch.zeros(num_images, dtype=torch.long, device=device)
    for start, s in _blocks(image, text_emb, chunk):
        end = start + s.shape[0]
        g = s.gather(1, text_image[start:end, None])  # [rows, 1]
        if not torch.equal(g[:, 0], gold[start:end]):
            raise RuntimeError("retrieval scores differed between two computations of the same block")
        # text->image: images tied with the own score rank ahead when their index is lower
        tied = ((s >= g).sum(1, dtype=torch.int32) > above[start:end] + 1).nonzero().reshape(-1)
        if tied.numel():
            ahead = (s[tied] == g[tied]) & (cols < text_image[start + tied, None])  # [tied, I]
            t2i[start + tied] += ahead.sum(1)
        # image->text: a caption before the image's first best one ranks ahead of it when its score is >=,
        # a later one when it is >; images whose first best caption lies in this block get the >= rows added
        i2t += (s > torch.where(first >= end, below, best)).sum(0, dtype=torch.int32)
        inside = ((first >= start) & (first < end)).nonzero().reshape(-1)
        if inside.numel():
            sub = s[:, inside]  # [rows, inside]
            ahead = caption[start:end, None] < first[inside]
            i2t[inside] += ((sub == best[inside]) & ahead).sum(0)
    return t2i, i2t


def recall_at_k(ranks: Tensor, ks: Sequence[int] = (1, 5, 10)) -> dict[int, Accuracy]:
    """Recall@K from 0-based ranks [N]: the share of ranks below K, for each K in ``ks``."""
    if any(k < 1 for k in ks):
        raise ValueError(f"recall@K needs K >= 1, got {list(ks)}")
    return {k: Accuracy(int((ranks < k).sum()), ranks.numel()) for k in ks}
