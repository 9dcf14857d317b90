"""Effective robustness: how far a model sits above (or below) a baseline robustness line."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from vlmrobust.core.linefit import LineFit, Units, bootstrap_fits, units_scale
from vlmrobust.core.transforms import TransformName, get_transform


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
    transformed units ``T(acc_ood) − (slope·T(acc_id) + intercept)``. Only the ID accuracy that
    enters T is clipped (by ``1/(2·n_id)``); ``acc_ood`` enters ``ER`` unclipped. The transformed
    distance clips ``acc_ood`` (by ``1/(2·n_ood)``) because it has to transform it.

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


def effective_robustness_ci(
    base_id: ArrayLike,
    base_ood: ArrayLike,
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    transform: TransformName = "probit",
    *,
    units: Units = "fraction",
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    n_id: ArrayLike | None = None,
    n_ood: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval of the effective robustness of models against a baseline line.

    The baseline models are resampled with replacement exactly as :func:`~vlmrobust.core.linefit.
    bootstrap_fits` does (same ``seed``: same resamples as the bootstrap band); each resample's
    refitted line gives ``ER_b = acc_ood − T⁻¹(slope_b·T(acc_id) + intercept_b)`` for every model
    (the clipping rule of :func:`effective_robustness`: only ``acc_id`` is clipped), and the
    interval is the central ``level`` range of ``ER_b`` over the resamples.

    Args:
        base_id: ID accuracies of the baseline models, in ``units``.
        base_ood: OOD accuracies of the baseline models, in ``units``.
        id_acc: ID accuracies of the models whose ER is wanted, in ``units`` (shape ``(M,)`` or scalar).
        ood_acc: their OOD accuracies, in ``units``, same shape as ``id_acc``.
        transform: accuracy transform T of the line.
        units: ``"fraction"`` or ``"percent"``; the interval is in these units.
        n_boot: number of bootstrap resamples.
        seed: seed of the resampling.
        level: coverage of the interval, in (0, 1).
        n_id: optional ID test-set size (a scalar: baseline and models share the ID set).
        n_ood: optional OOD test-set size, for clipping the baseline's OOD values in the refits.

    Returns:
        ``(er_low, er_high)``, arrays of the shape of ``id_acc``.

    Raises:
        ValueError: bad level or baseline input (see :func:`~vlmrobust.core.linefit.bootstrap_fits`).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    t = get_transform(transform)
    scale = units_scale(units)
    x = np.asarray(id_acc, dtype=float)
    y = np.asarray(ood_acc, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"id_acc and ood_acc differ in shape: {x.shape} vs {y.shape}")
    slope, intercept = bootstrap_fits(
        base_id, base_ood, transform, n_boot, seed, units=units, n_id=n_id, n_ood=n_ood
    )  # (B',) each
    t_id = t.forward(x.ravel() / scale, n_id)  # (M,)
    er = (
        y.ravel()[None, :] - t.inverse(slope[:, None] * t_id[None, :] + intercept[:, None]) * scale
    )  # (B', M)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(er, [alpha, 1.0 - alpha], axis=0)  # (M,) each
    return lo.reshape(x.shape), hi.reshape(x.shape)
