"""Erroneous agreements (clip_erroneous_agreements §3–4): benchmark pairs, their image similarity, and
pair accuracy binned by that similarity.

A benchmark pair is two records whose images differ only in what the question is about: What'sUp's
left/right (and on/under, in-front/behind, above/below) images of one object pair, and MMVP's
consecutive rows. The analysis asks whether a model fails on pairs the image encoder embeds almost
identically: pairs are binned by the cosine of their two image embeddings and each bin's pair accuracy
(both members correct) is reported with a Clopper–Pearson interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from vlmrobust.core.linefit import clopper_pearson
from vlmrobust.eval.metrics.compositional import WHATSUP_PAIRS, complete_pairs

PAIRED_BENCHMARKS = ("whatsup", "mmvp")


def benchmark_pairs(benchmark: str, meta: Sequence[Mapping]) -> list[tuple[int, int, str]]:
    """The record pairs ``(i, j, kind)`` of a benchmark, in order of first appearance.

    What'sUp: per object pair (``meta["group"]``) and opposite relations both present, the last record of
    each relation (a later duplicate overwrites, as the official grouping); ``kind`` is ``"left/right"``
    etc. MMVP: the two records of each ``meta["pair"]`` (incomplete pairs dropped); ``kind`` ``"pair"``.
    """
    if benchmark == "whatsup":
        by_group: dict[str, dict[str, int]] = {}
        for i, m in enumerate(meta):
            by_group.setdefault(str(m["group"]), {})[str(m["relation"])] = i
        pairs = []
        for rels in by_group.values():
            pairs += [(rels[a], rels[b], f"{a}/{b}") for a, b in WHATSUP_PAIRS if a in rels and b in rels]
        return pairs
    if benchmark == "mmvp":
        return [(i, j, "pair") for i, j in complete_pairs([m["pair"] for m in meta], "mmvp").values()]
    raise ValueError(
        f"benchmark {benchmark!r} has no image pairs; paired benchmarks: {', '.join(PAIRED_BENCHMARKS)}"
    )


def pair_cosines(embeddings: np.ndarray, pairs: Sequence[tuple[int, int, str]]) -> np.ndarray:
    """Cosine similarity [P] of the two image embeddings (rows of ``embeddings`` [N, D]) of each pair."""
    e = np.asarray(embeddings, dtype=np.float64)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    i = np.asarray([p[0] for p in pairs], dtype=np.int64)
    j = np.asarray([p[1] for p in pairs], dtype=np.int64)
    return np.einsum("pd,pd->p", e[i], e[j])


@dataclass(frozen=True)
class SimilarityBin:
    """Pairs whose image cosine lies in ``[low, high)`` (the last bin includes ``high``)."""

    low: float
    high: float
    pairs: int
    correct: int
    mean_cosine: float
    accuracy: float
    ci_low: float
    ci_high: float


def binned_pair_accuracy(
    cosines: np.ndarray, pair_correct: np.ndarray, edges: Sequence[float], alpha: float = 0.05
) -> list[SimilarityBin]:
    """Pair accuracy per cosine bin with ``1 − alpha`` Clopper–Pearson intervals; empty bins have NaNs.

    Args:
        cosines: the pairs' image cosines [P].
        pair_correct: whether a model answered both members of each pair correctly [P].
        edges: increasing bin edges; pairs outside ``[edges[0], edges[-1]]`` are counted in no bin.
        alpha: interval level.
    """
    cos = np.asarray(cosines, dtype=np.float64)
    ok = np.asarray(pair_correct, dtype=bool)
    if cos.shape != ok.shape:
        raise ValueError(f"{cos.shape[0]} cosines but {ok.shape[0]} pair results")
    edges = [float(e) for e in edges]
    if len(edges) < 2 or any(b <= a for a, b in pairwise(edges)):
        raise ValueError(f"bin edges must increase, got {edges}")
    out = []
    for k, (lo, hi) in enumerate(pairwise(edges)):
        last = k == len(edges) - 2
        inside = (cos >= lo) & ((cos <= hi) if last else (cos < hi))
        n, c = int(inside.sum()), int(ok[inside].sum())
        if n:
            ci_lo, ci_hi = (float(v) for v in clopper_pearson(c, n, alpha))
            out.append(SimilarityBin(lo, hi, n, c, float(cos[inside].mean()), c / n, ci_lo, ci_hi))
        else:
            out.append(SimilarityBin(lo, hi, 0, 0, float("nan"), float("nan"), float("nan"), float("nan")))
    return out
