"""Calibration (DESIGN.md §Definitions, holistic §VI): ECE over 15 equal-width bins, NLL, and the
temperature that minimises the NLL on ID data (applied unchanged to every shift)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _log_softmax(logits: ArrayLike) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] == 0:
        raise ValueError(f"logits must be [N, C] with C >= 1, got shape {z.shape}")
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _labels(labels: ArrayLike, n: int) -> np.ndarray:
    y = np.asarray(labels, dtype=np.int64).ravel()
    if len(y) != n:
        raise ValueError(f"{len(y)} labels for {n} rows of logits")
    return y


def expected_calibration_error(logits: ArrayLike, labels: ArrayLike, n_bins: int = 15) -> float:
    """ECE = Σ_b (n_b / N) · |accuracy_b − mean confidence_b| over ``n_bins`` equal-width confidence bins
    [k/n, (k+1)/n) (confidence 1 in the last); confidence = the top softmax probability, correct = top-1
    (first index on ties) equals the label."""
    log_p = _log_softmax(logits)
    y = _labels(labels, len(log_p))
    if not len(y):
        raise ValueError("ECE of an empty set")
    confidence = np.exp(log_p.max(axis=1))
    correct = log_p.argmax(axis=1) == y
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        members = bins == b
        total += members.sum() / len(y) * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


def negative_log_likelihood(logits: ArrayLike, labels: ArrayLike, temperature: float = 1.0) -> float:
    """Mean −log softmax(logits / temperature)[label]."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_p = _log_softmax(np.asarray(logits, dtype=np.float64) / temperature)
    y = _labels(labels, len(log_p))
    return float(-log_p[np.arange(len(y)), y].mean())


def fit_temperature(logits: ArrayLike, labels: ArrayLike, bounds: tuple[float, float] = (1e-2, 1e2)) -> float:
    """The temperature T in ``bounds`` minimising ``negative_log_likelihood(logits, labels, T)``: a
    golden-section search over log T (the NLL is convex in 1/T, hence unimodal in log T), to 1e-9 in log T."""
    z, y = np.asarray(logits, dtype=np.float64), np.asarray(labels)

    def nll(log_t: float) -> float:
        return negative_log_likelihood(z, y, float(np.exp(log_t)))

    lo, hi = float(np.log(bounds[0])), float(np.log(bounds[1]))
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    while hi - lo > 1e-9:
        if fa <= fb:  # the minimum lies in [lo, b]
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:  # in [a, hi]
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))
