"""OOD detection (DESIGN.md §Definitions, holistic §V): scores per image and the separation of ID from OOD.

Higher scores mean "more in-distribution". ID images are the positives of the ROC.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _softmax_max(logits: ArrayLike) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"scores must be [N, C] with C >= 1, got shape {z.shape}")
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).max(axis=1)


def msp_scores(logits: ArrayLike) -> np.ndarray:
    """Maximum softmax probability of each row of ``[N, C]`` logits."""
    return _softmax_max(logits)


def mcm_scores(cosines: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """Maximum concept matching: the maximum softmax over ``[N, C]`` cosine similarities divided by the
    temperature (τ = 1 in Ming et al.)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return _softmax_max(np.asarray(cosines, dtype=np.float64) / temperature)


def _pair(id_scores: ArrayLike, ood_scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(id_scores, dtype=np.float64).ravel(), np.asarray(ood_scores, dtype=np.float64).ravel()
    if not len(a) or not len(b):
        raise ValueError(f"need ID and OOD scores, got {len(a)} ID and {len(b)} OOD")
    return a, b


def auroc(id_scores: ArrayLike, ood_scores: ArrayLike) -> float:
    """Area under the ROC of ID (positive) vs OOD: P(s_ID > s_OOD) + ½ P(s_ID = s_OOD) (Mann–Whitney)."""
    a, b = _pair(id_scores, ood_scores)
    b_sorted = np.sort(b)
    below = np.searchsorted(b_sorted, a, side="left")  # OOD scores < each ID score
    ties = np.searchsorted(b_sorted, a, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (len(a) * len(b)))


def fpr_at_tpr(id_scores: ArrayLike, ood_scores: ArrayLike, tpr: float = 0.95) -> float:
    """False-positive rate (OOD accepted as ID) at the highest threshold whose true-positive rate (ID
    accepted) is at least ``tpr``; a threshold accepts scores ≥ it, so tied scores move together."""
    if not 0 < tpr <= 1:
        raise ValueError(f"tpr must be in (0, 1], got {tpr}")
    a, b = _pair(id_scores, ood_scores)
    thresholds = np.unique(np.concatenate([a, b]))[::-1]  # distinct scores, highest first
    a_sorted, b_sorted = np.sort(a), np.sort(b)
    tprs = (len(a) - np.searchsorted(a_sorted, thresholds, side="left")) / len(a)
    fprs = (len(b) - np.searchsorted(b_sorted, thresholds, side="left")) / len(b)
    return float(fprs[np.argmax(tprs >= tpr - 1e-12)])
