"""Slopes of two groups of models on one (ID, OOD) pair, their gap, and mean corruption error.

Each group (e.g. CNN- vs ViT-based CLIP models on a 3DCC corruption and severity) gets its own
robustness line ``T(ood) = s·T(id) + b`` (:func:`~vlmrobust.core.linefit.fit_line`, probit by
default, the clipping rule of :mod:`~vlmrobust.core.transforms`). The gap between the lines is
reported three ways, all signed (positive when group a is steeper):

* ``delta_slope`` ΔS = s_a − s_b;
* ``angle_deg`` Δ_S = arctan s_a − arctan s_b, the angle between the two lines in the transformed
  plane, in degrees;
* ``tan_delta`` tan(Δ_S) = (s_a − s_b) / (1 + s_a·s_b), the tangent of that angle — the
  "gap between the slopes, represented by tan(Δ_S)" of Fig. 8 of the holistic CLIP-robustness paper
  (§VIII.B), which names the quantity but gives no formula; ±inf when the lines are perpendicular.

Intervals are percentile bootstrap intervals that resample models with replacement within each
group independently. :func:`corruption_errors` computes the corruption errors and mCE of Hendrycks
& Dietterich against a baseline model's errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from vlmrobust.core.linefit import LineFit, Units, bootstrap_fits, fit_line, units_scale
from vlmrobust.core.transforms import TransformName, get_transform

Interval = tuple[float, float]  # (low, high)
_NO_INTERVAL: Interval = (float("nan"), float("nan"))


def slope_gap(slope_a: ArrayLike, slope_b: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ΔS, Δ_S and tan(Δ_S) of slope pairs (elementwise).

    Args:
        slope_a: slope(s) of group a, transformed units.
        slope_b: slope(s) of group b, broadcast against ``slope_a``.

    Returns:
        ``(delta_slope, angle_deg, tan_delta)``: ``s_a − s_b``, ``arctan s_a − arctan s_b`` in degrees
        and ``(s_a − s_b) / (1 + s_a·s_b)`` (±inf where ``s_a·s_b = −1``).
    """
    a, b = np.asarray(slope_a, dtype=float), np.asarray(slope_b, dtype=float)
    delta = a - b
    angle = np.degrees(np.arctan(a) - np.arctan(b))
    with np.errstate(divide="ignore", invalid="ignore"):
        tan = np.where(1.0 + a * b == 0.0, np.copysign(np.inf, delta), delta / (1.0 + a * b))
    return delta, angle, tan


@dataclass(frozen=True)
class SlopeComparison:
    """Lines of two groups on one (ID, OOD) pair and the gap between their slopes."""

    group_a: str  # name of group a (ΔS = s_a − s_b)
    group_b: str  # name of group b
    line_a: LineFit  # group a's line, fitted on its models alone
    line_b: LineFit  # group b's line
    delta_slope: float  # ΔS = s_a − s_b, transformed units
    angle_deg: float  # Δ_S = arctan s_a − arctan s_b, degrees
    tan_delta: float  # tan(Δ_S) = (s_a − s_b) / (1 + s_a s_b)
    slope_a_ci: Interval  # percentile bootstrap interval of s_a (NaN without resamples)
    slope_b_ci: Interval  # interval of s_b
    delta_slope_ci: Interval  # interval of ΔS
    angle_deg_ci: Interval  # interval of Δ_S
    tan_delta_ci: Interval  # interval of tan(Δ_S)
    level: float  # coverage of the intervals
    n_boot: int  # paired resamples behind the intervals (degenerate ones dropped; 0: none)
    seed: int  # bootstrap seed
    clipped_a: int  # points of group a with an accuracy clipped by the transform
    clipped_b: int  # points of group b with a clipped accuracy

    def to_dict(self) -> dict[str, float | int | str | None]:
        """Flat plain-JSON form: ID/OOD sets, transform, per-group n/slope/intercept/R², the gap, intervals."""
        out: dict[str, float | int | str | None] = {
            "id": self.line_a.id_set,
            "ood": self.line_a.ood_set,
            "transform": self.line_a.transform,
            "group_a": self.group_a,
            "group_b": self.group_b,
        }
        for tag, line, ci, clipped in (("a", self.line_a, self.slope_a_ci, self.clipped_a),
                                       ("b", self.line_b, self.slope_b_ci, self.clipped_b)):  # fmt: skip
            out |= {f"n_{tag}": line.n, f"slope_{tag}": line.slope, f"slope_{tag}_low": ci[0],
                    f"slope_{tag}_high": ci[1], f"intercept_{tag}": line.intercept, f"r2_{tag}": line.r2,
                    f"clipped_{tag}": clipped}  # fmt: skip
        for name, ci in (("delta_slope", self.delta_slope_ci), ("angle_deg", self.angle_deg_ci),
                         ("tan_delta", self.tan_delta_ci)):  # fmt: skip
            out |= {name: getattr(self, name), f"{name}_low": ci[0], f"{name}_high": ci[1]}
        return out | {"level": self.level, "n_boot": self.n_boot, "seed": self.seed}


def _clipped(acc: ArrayLike, transform: TransformName, units: Units, n: int | None) -> int:
    _, flags = get_transform(transform).forward_flagged(np.asarray(acc, dtype=float) / units_scale(units), n)
    return int(flags.sum())


def group_seeds(seed: int) -> tuple[int, int]:
    """The seeds of the two groups' resamples: two independent streams drawn from ``seed``.

    Group a's resamples are ``numpy.random.default_rng(seeds[0]).integers(0, N_a, (n_boot, N_a))``
    (as in :func:`~vlmrobust.core.linefit.bootstrap_fits`), group b's likewise with ``seeds[1]``.
    """
    a, b = np.random.SeedSequence(seed).generate_state(2)
    return int(a), int(b)


def compare_slopes(
    id_a: ArrayLike,
    ood_a: ArrayLike,
    id_b: ArrayLike,
    ood_b: ArrayLike,
    transform: TransformName = "probit",
    *,
    names: tuple[str, str] = ("a", "b"),
    units: Units = "fraction",
    n_id: int | None = None,
    n_ood: int | None = None,
    id_set: str | None = None,
    ood_set: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> SlopeComparison:
    """Fit one line per group and the gap between the slopes, with percentile bootstrap intervals.

    Each bootstrap resample draws the models of each group with replacement, independently per group
    (seeds from :func:`group_seeds`), and refits both lines; resamples whose ID values are all equal are
    dropped, and the first ``min(B'_a, B'_b)`` valid resamples of the two groups are paired.

    Args:
        id_a: ID accuracies of group a's models, in ``units``.
        ood_a: OOD accuracies of the same models.
        id_b: ID accuracies of group b's models.
        ood_b: OOD accuracies of group b's models.
        transform: accuracy transform T of both lines.
        names: names of groups a and b.
        units: ``"fraction"`` or ``"percent"``.
        n_id: ID test-set size, for the clipping rule (``None``: unknown).
        n_ood: OOD test-set size, for the clipping rule.
        id_set: name of the ID eval set, recorded on the lines.
        ood_set: name of the OOD eval set, recorded on the lines.
        n_boot: bootstrap resamples (0: NaN intervals).
        seed: bootstrap seed; equal seeds give equal intervals.
        level: coverage of the intervals, in (0, 1).

    Raises:
        ValueError: a group with fewer than 2 points, NaN or out-of-range accuracies, all ID values of a
            group equal, ``n_boot < 0`` or ``level`` outside (0, 1) (messages name the group).
    """
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    data = ((names[0], id_a, ood_a), (names[1], id_b, ood_b))
    common = {"units": units, "n_id": n_id, "n_ood": n_ood}
    lines: list[LineFit] = []
    boots: list[np.ndarray] = []
    for (name, x, y), group_seed in zip(data, group_seeds(seed), strict=True):
        try:
            lines.append(fit_line(x, y, transform, id_set=id_set, ood_set=ood_set, **common))  # type: ignore[arg-type]
            if n_boot > 0:
                boots.append(bootstrap_fits(x, y, transform, n_boot, group_seed, **common)[0])  # type: ignore[arg-type]
        except ValueError as err:
            raise ValueError(f"group {name!r}: {err}") from err
    delta, angle, tan = (float(v) for v in slope_gap(lines[0].slope, lines[1].slope))
    cis: list[Interval] = [_NO_INTERVAL] * 5
    used = min((b.size for b in boots), default=0)
    if used:
        sa, sb = boots[0][:used], boots[1][:used]  # (B,) paired resamples
        alpha = (1.0 - level) / 2.0
        qs = [np.quantile(v, [alpha, 1.0 - alpha]) for v in (sa, sb, *slope_gap(sa, sb))]
        cis = [(float(lo), float(hi)) for lo, hi in qs]
    clipped = [_clipped(x, transform, units, n_id) + _clipped(y, transform, units, n_ood) for _, x, y in data]
    return SlopeComparison(names[0], names[1], lines[0], lines[1], delta, angle, tan, *cis, level=level,
                           n_boot=used, seed=seed, clipped_a=clipped[0], clipped_b=clipped[1])  # fmt: skip


@dataclass(frozen=True)
class CorruptionError:
    """Corruption errors of one model against a baseline model (Hendrycks & Dietterich, 2019)."""

    ce: dict[str, float]  # corruption -> CE_c = Σ_s E_{s,c} / Σ_s E^base_{s,c} (a ratio; ×100 for %)
    mce: float  # mean of CE_c over the corruptions

    def to_dict(self) -> dict[str, float]:
        """``{"mce": …, "ce/<corruption>": …}``."""
        return {"mce": self.mce, **{f"ce/{c}": v for c, v in self.ce.items()}}


def corruption_errors(
    errors: Mapping[tuple[str, int], float], baseline: Mapping[tuple[str, int], float]
) -> CorruptionError:
    """CE per corruption and mCE of a model, summing over the severities the baseline gives.

    ``CE_c = Σ_s E_{s,c} / Σ_s E^base_{s,c}`` over the severities ``s`` of corruption ``c`` in
    ``baseline``; ``mCE`` is the mean of ``CE_c`` over its corruptions. Errors are top-1 error rates
    (1 − accuracy) of the model and of the baseline in the same units; entries of ``errors`` that
    ``baseline`` lacks are not used.

    Args:
        errors: ``(corruption, severity) -> error`` of the model.
        baseline: ``(corruption, severity) -> error`` of the baseline model (e.g. AlexNet).

    Raises:
        ValueError: an empty baseline, a (corruption, severity) the model lacks, a negative or non-finite
            error, or a corruption whose baseline errors sum to 0.
    """
    if not baseline:
        raise ValueError("no baseline errors given")
    model_sum: dict[str, float] = {}
    base_sum: dict[str, float] = {}
    for (corruption, severity), base in baseline.items():
        if (corruption, severity) not in errors:
            raise ValueError(f"no error for corruption {corruption!r}, severity {severity}")
        mine = errors[(corruption, severity)]
        for what, v in (("model", mine), ("baseline", base)):
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(
                    f"{what} error of {corruption!r}, severity {severity} is {v}, not an error rate"
                )
        model_sum[corruption] = model_sum.get(corruption, 0.0) + float(mine)
        base_sum[corruption] = base_sum.get(corruption, 0.0) + float(base)
    zero = [c for c, v in base_sum.items() if v == 0.0]
    if zero:
        raise ValueError(f"baseline errors of corruption {zero[0]!r} sum to 0; CE is undefined")
    ce = {c: model_sum[c] / base_sum[c] for c in base_sum}
    return CorruptionError(ce, float(np.mean(list(ce.values()))))
