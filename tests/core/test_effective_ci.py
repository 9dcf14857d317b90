"""Effective robustness: the clipping rule, bootstrap intervals against a hand case and a numpy loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vlmrobust.core.effective import effective_robustness, effective_robustness_ci
from vlmrobust.core.linefit import fit_line
from vlmrobust.core.robustness import fit_robustness

BASE_ID = np.array([0.55, 0.62, 0.70, 0.74, 0.79, 0.83, 0.88])
BASE_OOD = np.array([0.41, 0.47, 0.52, 0.60, 0.63, 0.70, 0.74])
MODELS_ID = np.array([0.60, 0.72, 0.90])
MODELS_OOD = np.array([0.55, 0.66, 0.81])


def test_points_exactly_on_a_line_give_a_zero_width_interval_at_the_er() -> None:
    x = np.array([-0.5, 0.0, 0.4, 1.0])  # probit ID values of the baseline, on T(ood) = 0.8·T(id) − 0.3
    base_id, base_ood = norm.cdf(x), norm.cdf(0.8 * x - 0.3)
    # A model at ID probit 0.5 with OOD accuracy 70 %: ER = 0.70 − Φ(0.8·0.5 − 0.3) = 0.70 − Φ(0.1).
    er_hand = 0.70 - norm.cdf(0.1)
    lo, hi = effective_robustness_ci(base_id, base_ood, norm.cdf(0.5), 0.70, "probit", n_boot=200, seed=1)
    assert float(lo) == pytest.approx(er_hand, abs=1e-12) and float(hi) == pytest.approx(er_hand, abs=1e-12)
    # In percent the interval is in percentage points.
    lo, hi = effective_robustness_ci(100 * base_id, 100 * base_ood, [100 * norm.cdf(0.5)], [70.0], "probit",
                                     units="percent", n_boot=50)  # fmt: skip
    np.testing.assert_allclose([lo[0], hi[0]], [100 * er_hand] * 2, atol=1e-10)


def test_interval_matches_a_numpy_loop_over_the_same_resamples() -> None:
    lo, hi = effective_robustness_ci(BASE_ID, BASE_OOD, MODELS_ID, MODELS_OOD, "probit", n_boot=400, seed=5,
                                     level=0.9)  # fmt: skip
    idx = np.random.default_rng(5).integers(0, BASE_ID.size, size=(400, BASE_ID.size))
    ers = []
    for rows in idx:
        if np.ptp(BASE_ID[rows]) == 0:
            continue
        slope, intercept = np.polyfit(norm.ppf(BASE_ID[rows]), norm.ppf(BASE_OOD[rows]), 1)
        ers.append(MODELS_OOD - norm.cdf(slope * norm.ppf(MODELS_ID) + intercept))
    ref_lo, ref_hi = np.percentile(np.array(ers), [5, 95], axis=0)
    np.testing.assert_allclose(lo, ref_lo, atol=1e-10)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-10)
    er, _ = effective_robustness(fit_line(BASE_ID, BASE_OOD), MODELS_ID, MODELS_OOD)
    assert np.all(lo < er) and np.all(er < hi)
    with pytest.raises(ValueError, match="level"):
        effective_robustness_ci(BASE_ID, BASE_OOD, MODELS_ID, MODELS_OOD, level=1.0)


def test_only_the_id_accuracy_entering_t_is_clipped() -> None:
    line = fit_line(BASE_ID, BASE_OOD, "probit")
    # acc_id = 1.0 on n_id = 1000 enters T as 0.9995; acc_ood = 1.0 enters ER as 1.0 (unclipped).
    er, er_t = effective_robustness(line, 1.0, 1.0, n_id=1000, n_ood=100)
    pred_t = line.slope * norm.ppf(0.9995) + line.intercept
    assert float(er) == pytest.approx(1.0 - norm.cdf(pred_t), abs=1e-12)
    # The transformed distance has to transform acc_ood, so there it is clipped by 1/(2·n_ood).
    assert float(er_t) == pytest.approx(norm.ppf(0.995) - pred_t, abs=1e-12)
    lo, hi = effective_robustness_ci(BASE_ID, BASE_OOD, 1.0, 1.0, n_boot=300, n_id=1000, n_ood=100)
    assert float(lo) <= float(er) <= float(hi)


def test_fit_robustness_intervals_and_recorded_pairs() -> None:
    table = pd.DataFrame({"model": [f"m{i}" for i in range(10)],
                          "val": np.r_[BASE_ID, MODELS_ID], "v2": np.r_[BASE_OOD, MODELS_OOD]})  # fmt: skip
    base = [f"m{i}" for i in range(7)]
    report = fit_robustness(table, "val", ["v2"], baseline=base, n_boot=300, seed=2, ci_level=0.8)
    lo, hi = effective_robustness_ci(BASE_ID, BASE_OOD, table.val, table.v2, n_boot=300, seed=2, level=0.8)
    np.testing.assert_allclose(report.effective.er_low, lo, atol=1e-12)
    np.testing.assert_allclose(report.effective.er_high, hi, atol=1e-12)
    line = report.lines["v2"]
    assert (line.id_set, line.ood_set) == ("val", "v2")
    none = fit_robustness(table, "val", ["v2"], baseline=base, n_boot=0)
    assert none.effective.er_low.isna().all() and none.effective.er_high.isna().all()
