"""Exact accuracies from per-sample correctness: integer counts, never float32 means."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


def _as_numpy(values: ArrayLike) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _as_bool(correct: ArrayLike) -> np.ndarray:
    """A flat bool vector from booleans or 0/1 values; anything else is an error."""
    arr = _as_numpy(correct).reshape(-1)
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError("correct must hold booleans (or 0/1)")
    return arr.astype(bool)


@dataclass(frozen=True)
class Accuracy:
    """``correct`` of ``n`` samples right.

    Attributes:
        correct: number of correct samples.
        n: number of samples.
    """

    correct: int
    n: int

    def __post_init__(self) -> None:
        if not 0 <= self.correct <= self.n:
            raise ValueError(f"Accuracy needs 0 <= correct <= n, got correct={self.correct}, n={self.n}")

    @property
    def value(self) -> float:
        """``correct / n`` (``nan`` for ``n == 0``)."""
        return self.correct / self.n if self.n else float("nan")

    def __float__(self) -> float:
        return self.value


def accuracy(correct: ArrayLike) -> Accuracy:
    """Exact accuracy of a bool (or 0/1) vector (numpy array, torch tensor or list)."""
    arr = _as_bool(correct)
    return Accuracy(int(arr.sum()), int(arr.size))


def per_class_accuracy_from_correct(
    correct: ArrayLike, labels: ArrayLike, num_classes: int
) -> tuple[np.ndarray, float]:
    """Per-class accuracy of a per-sample correctness vector, grouped by reference ``labels``.

    Returns:
        ``(acc, mean)``: ``acc[k]`` the accuracy over samples of class k (``nan`` for a class without
        samples) and the mean over classes that have samples (``nan`` when none has).
    """
    ok = _as_bool(correct)
    y = _as_numpy(labels).reshape(-1).astype(np.int64)
    if ok.shape != y.shape:
        raise ValueError(f"correct has {ok.size} entries but labels has {y.size}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got values in [{y.min()}, {y.max()}]")
    totals = np.bincount(y, minlength=num_classes)
    hits = np.bincount(y, weights=ok, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(totals > 0, hits / np.maximum(totals, 1), np.nan)
    present = totals > 0
    mean = float(acc[present].mean()) if present.any() else float("nan")
    return acc, mean


def per_class_accuracy(pred: ArrayLike, labels: ArrayLike, num_classes: int) -> tuple[np.ndarray, float]:
    """Per-class top-1 accuracy of single-label predictions; the mean is sklearn's balanced accuracy.

    Returns:
        ``(acc, mean)`` as :func:`per_class_accuracy_from_correct`.
    """
    p, y = _as_numpy(pred).reshape(-1), _as_numpy(labels).reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"pred has {p.size} entries but labels has {y.size}")
    return per_class_accuracy_from_correct(p == y, y, num_classes)
