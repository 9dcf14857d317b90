"""Accuracy transforms for robustness lines: probit, logit and linear, with the clipping rule.

Accuracies are fractions in [0, 1]. Before an unbounded transform (probit, logit) they are
clipped to ``[1/(2n), 1 - 1/(2n)]`` when the number of test samples ``n`` is known, else to
``[1e-6, 1 - 1e-6]``; :meth:`Transform.forward_flagged` says which points were clipped so that
outputs can flag them. The linear transform is the identity and never clips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, ndtr, ndtri
from scipy.special import logit as _logit

from vlmrobust.core.suggest import did_you_mean

TransformName = Literal["probit", "logit", "linear"]
TRANSFORMS: tuple[str, ...] = get_args(TransformName)

#: Clipping margin used when the sample count is unknown.
DEFAULT_EPS = 1e-6


def clip_bounds(n: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return the lower and upper clipping bounds for sample count(s) ``n``.

    Args:
        n: number of test samples behind each accuracy (scalar or per point); ``None``, NaN or
            non-positive entries mean unknown and give ``[1e-6, 1 - 1e-6]``.

    Returns:
        ``(lower, upper)`` as float arrays broadcastable against the accuracies.
    """
    if n is None:
        eps = np.asarray(DEFAULT_EPS)
    else:
        n_arr = np.asarray(n, dtype=float)
        known = np.isfinite(n_arr) & (n_arr > 0)
        eps = np.where(known, 0.5 / np.where(known, n_arr, 1.0), DEFAULT_EPS)
    return eps, 1.0 - eps


def clip_accuracy(acc: ArrayLike, n: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Clip accuracies (fractions) by the clipping rule.

    Args:
        acc: accuracies in [0, 1]; NaN passes through unclipped.
        n: sample count(s), see :func:`clip_bounds`.

    Returns:
        ``(clipped_acc, was_clipped)``: float array and boolean mask of the points that moved.

    Raises:
        ValueError: if a (non-NaN) accuracy lies outside [0, 1] (percent passed as fraction?).
    """
    a = np.asarray(acc, dtype=float)
    finite = a[np.isfinite(a)]
    if finite.size and (finite.min() < 0.0 or finite.max() > 1.0):
        raise ValueError(
            f"accuracies must be fractions in [0, 1]; got values in [{finite.min():g}, {finite.max():g}] "
            "(divide percentages by 100)"
        )
    lo, hi = clip_bounds(n)
    out = np.clip(a, lo, hi)
    was_clipped = np.isfinite(a) & (out != a)
    return out, was_clipped


@dataclass(frozen=True)
class Transform:
    """A monotone map from accuracy (fraction) to the plane where robustness lines are straight."""

    name: str  # "probit", "logit" or "linear"
    _fn: Callable[[np.ndarray], np.ndarray]  # forward map on clipped accuracies
    _inv: Callable[[np.ndarray], np.ndarray]  # inverse map back to accuracy
    clips: bool  # whether the forward map needs clipping away from 0 and 1

    def forward_flagged(self, acc: ArrayLike, n: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Transform accuracies and return ``(values, was_clipped)``."""
        if not self.clips:
            a, _ = clip_accuracy(acc, None)  # validates the range only
            return np.asarray(acc, dtype=float).copy(), np.zeros(a.shape, dtype=bool)
        a, was_clipped = clip_accuracy(acc, n)
        return self._fn(a), was_clipped

    def forward(self, acc: ArrayLike, n: ArrayLike | None = None) -> np.ndarray:
        """Transform accuracies (fractions) after clipping them."""
        return self.forward_flagged(acc, n)[0]

    def inverse(self, t: ArrayLike) -> np.ndarray:
        """Map transformed values back to accuracies (fractions)."""
        return self._inv(np.asarray(t, dtype=float))

    __call__ = forward


def probit(acc: ArrayLike, n: ArrayLike | None = None) -> np.ndarray:
    """Φ⁻¹ of the clipped accuracy."""
    return PROBIT.forward(acc, n)


def inv_probit(t: ArrayLike) -> np.ndarray:
    """Φ(t): probit units back to accuracy."""
    return PROBIT.inverse(t)


def logit(acc: ArrayLike, n: ArrayLike | None = None) -> np.ndarray:
    """log(a / (1 - a)) of the clipped accuracy."""
    return LOGIT.forward(acc, n)


def inv_logit(t: ArrayLike) -> np.ndarray:
    """1 / (1 + exp(-t)): logit units back to accuracy."""
    return LOGIT.inverse(t)


def linear(acc: ArrayLike, n: ArrayLike | None = None) -> np.ndarray:
    """Identity (no clipping); ``n`` is accepted for a uniform signature."""
    return LINEAR.forward(acc, n)


def inv_linear(t: ArrayLike) -> np.ndarray:
    """Identity."""
    return LINEAR.inverse(t)


PROBIT = Transform("probit", ndtri, ndtr, clips=True)  # ndtri = Φ⁻¹, ndtr = Φ
LOGIT = Transform("logit", _logit, expit, clips=True)
LINEAR = Transform("linear", lambda a: a, lambda t: t, clips=False)
_REGISTRY: dict[str, Transform] = {t.name: t for t in (PROBIT, LOGIT, LINEAR)}


def transform_accuracy(
    acc: ArrayLike, transform: TransformName = "probit", n: ArrayLike | None = None
) -> np.ndarray:
    """Apply the transform called ``transform`` to accuracies (fractions), with the clipping rule."""
    return get_transform(transform).forward(acc, n)


def get_transform(name: TransformName | Transform) -> Transform:
    """Return the transform called ``name`` (``"probit"``, ``"logit"`` or ``"linear"``).

    Raises:
        ValueError: for an unknown name, with a did-you-mean hint and the valid names.
    """
    if isinstance(name, Transform):
        return name
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown transform {name!r}. {did_you_mean(str(name), TRANSFORMS, 'transforms')}"
        ) from None
