"""Slopes of two model groups, their gap ΔS / tan(Δ_S) with bootstrap intervals, and mCE."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from vlmrobust.core.slopes import compare_slopes, corruption_errors, group_seeds, slope_gap
from vlmrobust.core.theory import TheoryConfig, simulate


def test_slope_gap_by_hand() -> None:
    # s_a = 2, s_b = 0.5: ΔS = 1.5, tan Δ_S = 1.5 / (1 + 1) = 0.75, Δ_S = atan 2 − atan 0.5 = atan 0.75.
    delta, angle, tan = slope_gap(2.0, 0.5)
    assert delta == pytest.approx(1.5)
    assert tan == pytest.approx(0.75)
    assert angle == pytest.approx(math.degrees(math.atan(0.75)))  # 36.87°
    assert math.tan(math.radians(float(angle))) == pytest.approx(float(tan))
    # Signed: the other order flips all three; perpendicular lines have an infinite tangent.
    assert [float(v) for v in slope_gap(0.5, 2.0)] == pytest.approx([-1.5, -float(angle), -0.75])
    assert slope_gap(1.0, -1.0)[2] == np.inf and slope_gap(-1.0, 1.0)[2] == -np.inf
    assert slope_gap(1.0, 1.0)[2] == 0.0


def test_exact_probit_lines_give_exact_slopes_and_degenerate_intervals() -> None:
    # Points exactly on Φ⁻¹(ood) = 2·Φ⁻¹(id) + 0.1 and Φ⁻¹(ood) = 0.5·Φ⁻¹(id): every resample refits them.
    t = np.array([-0.5, 0.0, 0.5, 1.0])
    a_id, a_ood = norm.cdf(t), norm.cdf(2 * t + 0.1)
    b_id, b_ood = norm.cdf(t[:3] + 0.2), norm.cdf(0.5 * (t[:3] + 0.2))
    res = compare_slopes(a_id, a_ood, b_id, b_ood, names=("cnn", "vit"), id_set="val", ood_set="fog/3",
                         n_boot=200, seed=3)  # fmt: skip
    assert (res.line_a.slope, res.line_a.intercept, res.line_b.slope) == pytest.approx((2.0, 0.1, 0.5))
    assert res.line_a.r2 == pytest.approx(1.0) and (res.line_a.n, res.line_b.n) == (4, 3)
    assert (res.delta_slope, res.tan_delta) == pytest.approx((1.5, 0.75))
    for ci, value in ((res.delta_slope_ci, 1.5), (res.tan_delta_ci, 0.75), (res.slope_b_ci, 0.5)):
        assert ci == pytest.approx((value, value))
    assert 0 < res.n_boot <= 200  # resamples of 3 points that repeat one model are dropped
    row = res.to_dict()
    assert (row["id"], row["ood"], row["group_a"], row["group_b"]) == ("val", "fog/3", "cnn", "vit")
    assert (row["slope_a"], row["tan_delta_low"], row["clipped_a"]) == pytest.approx((2.0, 0.75, 0))


def test_hand_computed_ols_in_percent() -> None:
    # Linear transform: x = .2 .4 .6 .8, y = .1 .3 .4 .6 -> Σdx·dy = .16, Σdx² = .2, slope .8, intercept −.05.
    x, y = [20.0, 40.0, 60.0, 80.0], [10.0, 30.0, 40.0, 60.0]
    res = compare_slopes(x, y, x, [5.0, 15.0, 20.0, 30.0], "linear", units="percent", n_boot=0)
    assert (res.line_a.slope, res.line_a.intercept) == pytest.approx((0.8, -0.05))
    assert res.line_b.slope == pytest.approx(0.4)  # y halved
    assert res.delta_slope == pytest.approx(0.4) and res.tan_delta == pytest.approx(0.4 / 1.32)
    assert res.n_boot == 0 and all(math.isnan(v) for v in res.tan_delta_ci)


def test_bootstrap_resamples_within_each_group_as_documented() -> None:
    rng = np.random.default_rng(0)
    a_id, b_id = rng.uniform(0.5, 0.8, 12), rng.uniform(0.5, 0.8, 9)
    a_ood = norm.cdf(0.9 * norm.ppf(a_id) - 0.3 + rng.normal(0, 0.05, 12))
    b_ood = norm.cdf(0.6 * norm.ppf(b_id) - 0.3 + rng.normal(0, 0.05, 9))
    res = compare_slopes(a_id, a_ood, b_id, b_ood, n_boot=500, seed=7, level=0.9)
    # Independent reference: resample each group with its own stream, refit with numpy.polyfit.
    slopes = []
    for (x, y), seed in zip(((a_id, a_ood), (b_id, b_ood)), group_seeds(7), strict=True):
        idx = np.random.default_rng(seed).integers(0, x.size, size=(500, x.size))
        slopes.append(np.array([np.polyfit(norm.ppf(x[i]), norm.ppf(y[i]), 1)[0] for i in idx]))
    sa, sb = slopes
    tan = (sa - sb) / (1 + sa * sb)
    assert res.n_boot == 500
    assert res.slope_a_ci == pytest.approx(tuple(np.quantile(sa, [0.05, 0.95])), rel=1e-9)
    assert res.delta_slope_ci == pytest.approx(tuple(np.quantile(sa - sb, [0.05, 0.95])), rel=1e-9)
    assert res.tan_delta_ci == pytest.approx(tuple(np.quantile(tan, [0.05, 0.95])), rel=1e-9)
    assert res.tan_delta_ci[0] < res.tan_delta < res.tan_delta_ci[1]
    assert compare_slopes(a_id, a_ood, b_id, b_ood, n_boot=500, seed=7, level=0.9) == res
    assert (
        compare_slopes(a_id, a_ood, b_id, b_ood, n_boot=500, seed=8, level=0.9).tan_delta_ci
        != res.tan_delta_ci
    )


def test_clipped_points_are_counted() -> None:
    res = compare_slopes(
        [0.5, 0.7, 1.0], [0.3, 0.5, 0.9], [0.5, 0.6, 0.7], [0.0, 0.2, 0.3], n_id=100, n_boot=0
    )
    assert (res.clipped_a, res.clipped_b) == (1, 1)  # id 1.0 -> 1 − 1/200; ood 0.0 -> 1e-6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"id_b": [0.5], "ood_b": [0.4]}, "group 'vit': need at least 2 points"),
        ({"id_b": [0.5, 0.5], "ood_b": [0.4, 0.3]}, "group 'vit': cannot fit a line"),
        ({"n_boot": -1}, "n_boot"),
        ({"level": 1.0}, "level"),
    ],
)
def test_bad_input_names_the_group(kwargs: dict[str, object], match: str) -> None:
    args = {"id_a": [0.5, 0.6], "ood_a": [0.3, 0.4], "id_b": [0.5, 0.7], "ood_b": [0.4, 0.5]} | kwargs
    with pytest.raises(ValueError, match=match):
        compare_slopes(names=("cnn", "vit"), **args)  # type: ignore[arg-type]


def test_theory_gap_is_inside_the_interval_in_most_repetitions() -> None:
    """Two groups from the Gaussian model (Theorem 1) with different OOD geometries, so different known
    slopes; models within a group differ by training-set size n and noise ξ. The theoretical ΔS and
    tan(Δ_S) must lie in the 95 % interval in ≥ 90 % of 50 repetitions. A group has 7 n × 3 ξ × 2 reps =
    42 models; the default 1,000 resamples cost ~10 ms per repetition, so the test needs no shortcut."""
    geometry_a = {"angle_ood": 30.0}  # slope 1.5 cos 30° / (2 cos 20°) ≈ 0.691
    geometry_b = {"angle_ood": 60.0}  # slope 1.5 cos 60° / (2 cos 20°) ≈ 0.399
    hits_delta = hits_tan = excludes_zero = 0
    reps = 50
    for r in range(reps):
        cfg_a = TheoryConfig(seed=2 * r, **geometry_a)
        cfg_b = TheoryConfig(seed=2 * r + 1, **geometry_b)
        a, b = simulate(cfg_a), simulate(cfg_b)
        res = compare_slopes(a.id_acc, a.ood_acc, b.id_acc, b.ood_acc, seed=r)
        delta, _, tan = (float(v) for v in slope_gap(cfg_a.predicted_slope, cfg_b.predicted_slope))
        hits_delta += res.delta_slope_ci[0] <= delta <= res.delta_slope_ci[1]
        hits_tan += res.tan_delta_ci[0] <= tan <= res.tan_delta_ci[1]
        excludes_zero += res.tan_delta_ci[0] > 0  # the intervals are informative, not merely wide
    assert delta == pytest.approx(0.292, abs=1e-3) and tan == pytest.approx(0.229, abs=1e-3)
    assert hits_delta / reps >= 0.9, hits_delta
    assert hits_tan / reps >= 0.9, hits_tan
    assert excludes_zero == reps


def test_corruption_errors_by_hand() -> None:
    # CE_fog = (0.2 + 0.4) / (0.4 + 0.8) = 0.5, CE_blur = (0.3 + 0.6) / (0.5 + 0.7) = 0.75, mCE = 0.625.
    model = {("fog", 1): 0.2, ("fog", 3): 0.4, ("blur", 1): 0.3, ("blur", 3): 0.6, ("snow", 1): 0.9}
    base = {("fog", 1): 0.4, ("fog", 3): 0.8, ("blur", 1): 0.5, ("blur", 3): 0.7}
    res = corruption_errors(model, base)  # snow is not in the baseline: not used
    assert res.ce == pytest.approx({"fog": 0.6 / 1.2, "blur": 0.9 / 1.2})
    assert res.mce == pytest.approx((0.5 + 0.75) / 2)
    assert res.to_dict() == pytest.approx({"mce": 0.625, "ce/fog": 0.5, "ce/blur": 0.75})
    with pytest.raises(ValueError, match="no error for corruption 'fog', severity 3"):
        corruption_errors({("fog", 1): 0.2}, base)
    with pytest.raises(ValueError, match="sum to 0"):
        corruption_errors(model, {("fog", 1): 0.0})
    with pytest.raises(ValueError, match="not an error rate"):
        corruption_errors({("fog", 1): float("nan")}, {("fog", 1): 0.5})
