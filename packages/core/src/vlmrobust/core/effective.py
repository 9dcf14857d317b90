"""Effective robustness: how far a model sits above (or below) a baseline robustness line."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from vlmrobust.core.linefit import LineFit, units_scale
from vlmrobust.core.transforms import get_transform


def effective_robustness(
    line: LineFit,
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    n_id: ArrayLike | None = None,
    n_ood: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Effective robustness of models against a fitted baseline ``line``.

    ``ER = acc_ood − T⁻¹(slope·T(acc_id) + intercept)`` in accuracy units (the line's ``units``:
    percentage points when the line was fitted on percentages), and the vertical distance in
    transformed units ``T(acc_ood) − (slope·T(acc_id) + intercept)``. Both use the clipping rule.

    Args:
        line: the baseline line.
        id_acc: ID accuracies, in ``line.units`` (scalar or array).
        ood_acc: OOD accuracies, in ``line.units``, same shape as ``id_acc``.
        n_id: optional ID test-set size(s) for the clipping rule.
        n_ood: optional OOD test-set size(s) for the clipping rule.

    Returns:
        ``(er, er_transformed)``, arrays of the input shape (0-d for scalars).
    """
    t = get_transform(line.transform)
    scale = units_scale(line.units)
    x = np.asarray(id_acc, dtype=float)
    y = np.asarray(ood_acc, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"id_acc and ood_acc differ in shape: {x.shape} vs {y.shape}")
    t_pred = line.predict_transformed(x, n_id)
    er = y - t.inverse(t_pred) * scale
    er_transformed = t.forward(y / scale, n_ood) - t_pred
    return er, er_transformed


def clipped_points(
    line: LineFit,
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    n_id: ArrayLike | None = None,
    n_ood: ArrayLike | None = None,
) -> np.ndarray:
    """True where the ID or the OOD accuracy (in ``line.units``) is clipped by ``line``'s transform."""
    t = get_transform(line.transform)
    scale = units_scale(line.units)
    _, clipped_id = t.forward_flagged(np.asarray(id_acc, dtype=float) / scale, n_id)
    _, clipped_ood = t.forward_flagged(np.asarray(ood_acc, dtype=float) / scale, n_ood)
    return clipped_id | clipped_ood
