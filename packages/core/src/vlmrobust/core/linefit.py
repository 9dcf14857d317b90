"""Robustness lines: OLS of T(acc_ood) on T(acc_id), bootstrap bands, Clopper–Pearson intervals."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaincinv

from vlmrobust.core.transforms import Transform, TransformName, get_transform

Units = Literal["fraction", "percent"]
_SCALE: dict[str, float] = {"fraction": 1.0, "percent": 100.0}


def units_scale(units: Units) -> float:
    """Return the factor from fractions to ``units`` (1 or 100)."""
    try:
        return _SCALE[units]
    except KeyError:
        raise ValueError(f"unknown units {units!r}; valid units: fraction, percent") from None


@dataclass(frozen=True)
class LineFit:
    """A fitted robustness line ``T(ood) = slope * T(id) + intercept``.

    ``predict`` takes and returns accuracies in ``units`` (the units of the data it was fitted on).
    ``id_set``/``ood_set`` name the pair of eval sets behind the line, where known, so that a consumer
    can refuse to apply it to another pair (see :meth:`check_pair`).
    """

    slope: float  # slope in transformed units
    intercept: float  # intercept in transformed units
    r2: float  # coefficient of determination of the fit, in transformed units
    n: int  # number of points (models) the line was fitted on
    transform: TransformName  # accuracy transform T
    units: Units = "fraction"  # units of accuracies going into and out of predict()
    id_set: str | None = None  # ID eval set the line was fitted on (None: not recorded)
    ood_set: str | None = None  # OOD eval set the line was fitted on (None: not recorded)

    def predict_transformed(self, id_acc: ArrayLike, n_id: ArrayLike | None = None) -> np.ndarray:
        """Predicted T(ood) for ID accuracies given in ``units``."""
        t_id = get_transform(self.transform).forward(
            np.asarray(id_acc, dtype=float) / units_scale(self.units), n_id
        )
        return self.slope * t_id + self.intercept

    def predict(self, id_acc: ArrayLike, n_id: ArrayLike | None = None) -> np.ndarray:
        """Predicted OOD accuracy ``T⁻¹(slope·T(id_acc) + intercept)``, in ``units``.

        Args:
            id_acc: ID accuracies in ``units``.
            n_id: optional sample counts of the ID test set(s), for the clipping rule.
        """
        t = get_transform(self.transform).inverse(self.predict_transformed(id_acc, n_id))
        return t * units_scale(self.units)

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Plain-JSON form: slope, intercept, r2, n, transform, units, id_set, ood_set."""
        return asdict(self)

    def check_pair(self, id_set: str, ood_set: str) -> None:
        """Refuse to apply this line to the pair ``(id_set, ood_set)`` when it was fitted on another.

        A line applies only to a pair whose ID and OOD sets are its own; unrecorded sets (None)
        are not checked.

        Raises:
            ValueError: naming the line's pair and the requested one.
        """
        for what, mine, theirs in (("ID", self.id_set, id_set), ("OOD", self.ood_set, ood_set)):
            if mine is not None and mine != theirs:
                raise ValueError(
                    f"line fitted on ({self.id_set}, {self.ood_set}) does not apply to ({id_set}, {ood_set}): "
                    f"its {what} set is {mine!r}, not {theirs!r}"
                )


@dataclass(frozen=True, eq=False)
class Band:
    """Pointwise bootstrap band of the predicted OOD accuracy on a grid of ID accuracies."""

    grid: np.ndarray  # ID accuracies (in units) where the band is evaluated, shape (G,)
    lower: np.ndarray  # lower band edge, OOD accuracy in units, shape (G,)
    upper: np.ndarray  # upper band edge, OOD accuracy in units, shape (G,)
    level: float  # coverage level, e.g. 0.95
    n_boot: int  # number of bootstrap resamples used (degenerate resamples excluded)


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    x_mean, y_mean = x.mean(), y.mean()
    sxx = float(((x - x_mean) ** 2).sum())
    if sxx == 0.0:
        raise ValueError("cannot fit a line: all ID accuracies are equal (after the transform)")
    slope = float(((x - x_mean) * (y - y_mean)).sum()) / sxx
    intercept = float(y_mean - slope * x_mean)
    ss_res = float(((y - slope * x - intercept) ** 2).sum())
    ss_tot = float(((y - y_mean) ** 2).sum())
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    return slope, intercept, r2


def _transformed_pairs(
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    transform: Transform,
    units: Units,
    n_id: ArrayLike | None,
    n_ood: ArrayLike | None,
) -> tuple[np.ndarray, np.ndarray]:
    scale = units_scale(units)
    x = np.asarray(id_acc, dtype=float).ravel() / scale
    y = np.asarray(ood_acc, dtype=float).ravel() / scale
    if x.shape != y.shape:
        raise ValueError(f"id_acc and ood_acc differ in length: {x.size} vs {y.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("accuracies contain NaN/inf; drop missing values before fitting")
    if x.size < 2:
        raise ValueError(f"need at least 2 points to fit a line, got {x.size}")
    return transform.forward(x, n_id), transform.forward(y, n_ood)


def fit_line(
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    transform: TransformName = "probit",
    *,
    units: Units = "fraction",
    n_id: ArrayLike | None = None,
    n_ood: ArrayLike | None = None,
    id_set: str | None = None,
    ood_set: str | None = None,
) -> LineFit:
    """Fit ``T(ood) = slope·T(id) + intercept`` by ordinary least squares.

    Args:
        id_acc: ID accuracies of the baseline models, in ``units``.
        ood_acc: OOD accuracies of the same models, in ``units``.
        transform: accuracy transform T.
        units: ``"fraction"`` (0–1) or ``"percent"`` (0–100).
        n_id: optional ID test-set size(s) for the clipping rule.
        n_ood: optional OOD test-set size(s) for the clipping rule.
        id_set: optional name of the ID eval set, recorded on the line.
        ood_set: optional name of the OOD eval set, recorded on the line.

    Raises:
        ValueError: fewer than 2 points, NaN values, or all ID accuracies equal.
    """
    t = get_transform(transform)
    x, y = _transformed_pairs(id_acc, ood_acc, t, units, n_id, n_ood)
    slope, intercept, r2 = _ols(x, y)
    return LineFit(slope, intercept, r2, int(x.size), t.name, units, id_set, ood_set)  # type: ignore[arg-type]


def bootstrap_fits(
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    transform: TransformName,
    n_boot: int = 1000,
    seed: int = 0,
    *,
    units: Units = "fraction",
    n_id: ArrayLike | None = None,
    n_ood: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts of OLS refits on bootstrap resamples of the models (with replacement).

    The resamples are ``numpy.random.default_rng(seed).integers(0, N, size=(n_boot, N))``, so the
    band of :func:`bootstrap_band` and the effective-robustness intervals of
    :func:`~vlmrobust.core.effective.effective_robustness_ci` drawn with one seed share their
    resamples. Resamples whose ID values are all equal (no line defined) are dropped.

    Args:
        id_acc: ID accuracies of the baseline models, in ``units``.
        ood_acc: OOD accuracies of the same models, in ``units``.
        transform: accuracy transform T.
        n_boot: number of bootstrap resamples.
        seed: seed of ``numpy.random.default_rng``.
        units: ``"fraction"`` or ``"percent"``.
        n_id: optional ID test-set size(s) for the clipping rule.
        n_ood: optional OOD test-set size(s) for the clipping rule.

    Returns:
        ``(slopes, intercepts)`` in transformed units, each of shape ``(B',)`` with ``B' <= n_boot``.

    Raises:
        ValueError: bad input (as :func:`fit_line`), ``n_boot < 1``, or every resample degenerate.
    """
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    t = get_transform(transform)
    x, y = _transformed_pairs(id_acc, ood_acc, t, units, n_id, n_ood)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))  # (B, N) resampled model indices
    xb, yb = x[idx], y[idx]  # (B, N)
    xc = xb - xb.mean(axis=1, keepdims=True)
    sxx = (xc**2).sum(axis=1)  # (B,)
    ok = sxx > 1e-12 * max(1.0, float(np.abs(x).max()) ** 2)
    if not ok.any():
        raise ValueError("every bootstrap resample was degenerate (all ID values equal)")
    slope = (xc[ok] * (yb[ok] - yb[ok].mean(axis=1, keepdims=True))).sum(axis=1) / sxx[ok]  # (B',)
    intercept = yb[ok].mean(axis=1) - slope * xb[ok].mean(axis=1)  # (B',)
    return slope, intercept


def bootstrap_band(
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    transform: TransformName,
    grid: ArrayLike,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    *,
    units: Units = "fraction",
    n_id: ArrayLike | None = None,
    n_ood: ArrayLike | None = None,
) -> Band:
    """Percentile bootstrap band of the fitted line, resampling models with replacement.

    Each resample (see :func:`bootstrap_fits`) refits the OLS line; the band at each grid point is the central ``level``
    interval of the resampled predictions of T(ood), mapped back to accuracy. Resamples whose
    ID values are all equal (no line defined) are dropped.

    Args:
        id_acc: ID accuracies of the baseline models, in ``units``.
        ood_acc: OOD accuracies of the same models, in ``units``.
        transform: accuracy transform T.
        grid: ID accuracies (in ``units``) where the band is evaluated.
        n_boot: number of bootstrap resamples.
        seed: seed of ``numpy.random.default_rng``; equal seeds give equal bands.
        level: coverage of the band, in (0, 1).
        units: ``"fraction"`` or ``"percent"``.
        n_id: optional ID test-set size(s) for the clipping rule.
        n_ood: optional OOD test-set size(s) for the clipping rule.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    t = get_transform(transform)
    slope, intercept = bootstrap_fits(
        id_acc, ood_acc, transform, n_boot, seed, units=units, n_id=n_id, n_ood=n_ood
    )  # (B',) each
    scale = units_scale(units)
    grid_arr = np.asarray(grid, dtype=float).ravel()
    g = t.forward(grid_arr / scale)  # (G,)
    pred = slope[:, None] * g[None, :] + intercept[:, None]  # (B', G)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(pred, [alpha, 1.0 - alpha], axis=0)  # (G,) each
    return Band(grid_arr, t.inverse(lo) * scale, t.inverse(hi) * scale, level, int(slope.size))


def clopper_pearson(k: ArrayLike, n: ArrayLike, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper–Pearson) binomial confidence interval for ``k`` successes in ``n`` trials.

    ``lower = Beta⁻¹(alpha/2; k, n-k+1)`` (0 when k = 0) and
    ``upper = Beta⁻¹(1-alpha/2; k+1, n-k)`` (1 when k = n), as fractions.

    Args:
        k: number of correct predictions (scalar or array).
        n: number of samples (scalar or array, broadcast against ``k``).
        alpha: 1 - confidence level.

    Raises:
        ValueError: if k < 0, k > n, n < 1 or alpha not in (0, 1).
    """
    k_arr, n_arr = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(n, dtype=float))
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if (n_arr < 1).any() or (k_arr < 0).any() or (k_arr > n_arr).any():
        raise ValueError("clopper_pearson needs 0 <= k <= n and n >= 1")
    # Safe shape parameters where the closed-form edge cases apply, so betaincinv sees valid input.
    # betaincinv(a, b, q) is the Beta(a, b) quantile function (scipy.stats.beta.ppf without its import cost).
    lower = np.where(k_arr > 0, betaincinv(np.maximum(k_arr, 1), n_arr - k_arr + 1, alpha / 2), 0.0)
    upper = np.where(k_arr < n_arr, betaincinv(k_arr + 1, np.maximum(n_arr - k_arr, 1), 1 - alpha / 2), 1.0)
    return lower, upper


def accuracy_interval(
    acc: ArrayLike, n: ArrayLike, alpha: float = 0.05, units: Units = "fraction"
) -> tuple[np.ndarray, np.ndarray]:
    """Clopper–Pearson interval of accuracies measured on ``n`` samples, in ``units``.

    The success count is ``round(acc·n)``; NaN accuracies or unknown ``n`` give NaN bounds.
    """
    scale = units_scale(units)
    a, n_arr = np.broadcast_arrays(np.asarray(acc, dtype=float) / scale, np.asarray(n, dtype=float))
    valid = np.isfinite(a) & np.isfinite(n_arr) & (n_arr >= 1)
    n_safe = np.where(valid, n_arr, 1.0)
    k = np.clip(np.round(np.where(valid, a, 0.0) * n_safe), 0, n_safe)
    lo, hi = clopper_pearson(k, n_safe, alpha)
    return np.where(valid, lo * scale, np.nan), np.where(valid, hi * scale, np.nan)
