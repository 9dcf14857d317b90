"""OLS robustness lines, bootstrap bands and Clopper–Pearson intervals against independent references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from vlmrobust.core.linefit import (
    LineFit,
    accuracy_interval,
    bootstrap_band,
    bootstrap_fits,
    clopper_pearson,
    fit_line,
)

ID = np.array([0.55, 0.62, 0.70, 0.74, 0.79, 0.83, 0.88])
OOD = np.array([0.41, 0.47, 0.52, 0.60, 0.63, 0.70, 0.74])


def test_fit_matches_polyfit_on_probit_values() -> None:
    x, y = norm.ppf(ID), norm.ppf(OOD)
    slope, intercept = np.polyfit(x, y, 1)
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    line = fit_line(ID, OOD, "probit")
    assert (line.slope, line.intercept, line.r2, line.n) == pytest.approx(
        (slope, intercept, r2, 7), abs=1e-12
    )
    # predict() is T⁻¹(slope·T(id) + intercept), back in accuracy.
    assert line.predict(0.8) == pytest.approx(norm.cdf(slope * norm.ppf(0.8) + intercept), abs=1e-12)


def test_exact_line_is_recovered_in_logit() -> None:
    x = np.linspace(-2, 2, 9)
    acc_id, acc_ood = 1 / (1 + np.exp(-x)), 1 / (1 + np.exp(-(0.7 * x - 0.2)))
    line = fit_line(acc_id, acc_ood, "logit")
    assert (line.slope, line.intercept, line.r2) == pytest.approx((0.7, -0.2, 1.0), abs=1e-12)


def test_percent_units_give_the_same_line_and_percent_predictions() -> None:
    frac = fit_line(ID, OOD, "probit")
    pct = fit_line(ID * 100, OOD * 100, "probit", units="percent")
    assert (pct.slope, pct.intercept, pct.r2) == pytest.approx(
        (frac.slope, frac.intercept, frac.r2), abs=1e-12
    )
    assert pct.predict(80.0) == pytest.approx(100 * frac.predict(0.8), abs=1e-10)
    assert pct.to_dict()["units"] == "percent"


def test_fit_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least 2 points"):
        fit_line([0.5], [0.4])
    with pytest.raises(ValueError, match="NaN"):
        fit_line([0.5, np.nan, 0.7], [0.4, 0.5, 0.6])
    with pytest.raises(ValueError, match="all ID accuracies are equal"):
        fit_line([0.5, 0.5], [0.4, 0.6])


def test_bootstrap_band_matches_a_loop_reference_and_is_seeded() -> None:
    grid = np.array([0.5, 0.7, 0.9])
    band = bootstrap_band(ID, OOD, "probit", grid, n_boot=300, seed=7, level=0.9)
    # Independent reference: the same resampled indices, one np.polyfit per resample.
    idx = np.random.default_rng(7).integers(0, ID.size, size=(300, ID.size))
    preds = []
    for rows in idx:
        if np.ptp(ID[rows]) == 0:
            continue
        s, b = np.polyfit(norm.ppf(ID[rows]), norm.ppf(OOD[rows]), 1)
        preds.append(s * norm.ppf(grid) + b)
    lo, hi = np.quantile(np.array(preds), [0.05, 0.95], axis=0)
    np.testing.assert_allclose(band.lower, norm.cdf(lo), atol=1e-10)
    np.testing.assert_allclose(band.upper, norm.cdf(hi), atol=1e-10)
    assert band.n_boot == len(preds) and band.level == 0.9
    again = bootstrap_band(ID, OOD, "probit", grid, n_boot=300, seed=7, level=0.9)
    np.testing.assert_array_equal(again.lower, band.lower)
    other = bootstrap_band(ID, OOD, "probit", grid, n_boot=300, seed=8, level=0.9)
    assert not np.array_equal(other.lower, band.lower)
    line = fit_line(ID, OOD, "probit")
    assert np.all(band.lower < line.predict(grid)) and np.all(line.predict(grid) < band.upper)


def test_bootstrap_band_in_percent() -> None:
    frac = bootstrap_band(ID, OOD, "probit", [0.6, 0.8], n_boot=100, seed=0)
    pct = bootstrap_band(ID * 100, OOD * 100, "probit", [60.0, 80.0], n_boot=100, seed=0, units="percent")
    np.testing.assert_allclose(pct.upper, 100 * frac.upper, rtol=1e-12)


def test_clopper_pearson_edge_cases_in_closed_form() -> None:
    # k = 0: [0, 1 − (α/2)^(1/n)]; k = n: [(α/2)^(1/n), 1].
    lo, hi = clopper_pearson([0, 10], [10, 10], alpha=0.05)
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert hi[0] == pytest.approx(1 - 0.025 ** (1 / 10), abs=1e-12)
    assert lo[1] == pytest.approx(0.025 ** (1 / 10), abs=1e-12)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (5, 10), (37, 50), (7600, 10000)])
def test_clopper_pearson_matches_scipy_binomtest(k: int, n: int) -> None:
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = clopper_pearson(k, n)
    assert (float(lo), float(hi)) == pytest.approx((ref.low, ref.high), abs=1e-10)


def test_clopper_pearson_hand_value_and_errors() -> None:
    lo, hi = clopper_pearson(5, 10)  # textbook: 5/10 -> [0.1871, 0.8129]
    assert (float(lo), float(hi)) == pytest.approx((0.187086, 0.812914), abs=1e-6)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        clopper_pearson(11, 10)


def test_accuracy_interval_in_percent_with_unknown_n() -> None:
    lo, hi = accuracy_interval([50.0, 50.0], [10, np.nan], units="percent")
    assert (lo[0], hi[0]) == pytest.approx((18.7086, 81.2914), abs=1e-4)
    assert np.isnan(lo[1]) and np.isnan(hi[1])


def test_linefit_is_frozen() -> None:
    line = LineFit(1.0, 0.0, 1.0, 2, "probit")
    with pytest.raises(AttributeError):
        line.slope = 2.0  # type: ignore[misc]


def test_linefit_records_its_pair_and_old_dicts_still_load() -> None:
    line = fit_line(ID, OOD, "probit", id_set="imagenet/val", ood_set="imagenet-r")
    d = line.to_dict()
    assert (d["id_set"], d["ood_set"]) == ("imagenet/val", "imagenet-r")
    assert LineFit(**d) == line
    old = {k: v for k, v in d.items() if k not in ("id_set", "ood_set")}  # a lines.json entry of before
    assert LineFit(**old).id_set is None and LineFit(**old).ood_set is None
    line.check_pair("imagenet/val", "imagenet-r")
    LineFit(**old).check_pair("anything", "else")  # unrecorded sets are not checked
    with pytest.raises(ValueError, match="its ID set is 'imagenet/val', not 'world/id'"):
        line.check_pair("world/id", "imagenet-r")
    with pytest.raises(ValueError, match="its OOD set is 'imagenet-r'"):
        line.check_pair("imagenet/val", "imagenet-a")


def test_bootstrap_fits_are_the_resamples_of_the_band() -> None:
    slopes, intercepts = bootstrap_fits(ID, OOD, "probit", n_boot=50, seed=3)
    idx = np.random.default_rng(3).integers(0, ID.size, size=(50, ID.size))
    ref = [np.polyfit(norm.ppf(ID[r]), norm.ppf(OOD[r]), 1) for r in idx if np.ptp(ID[r]) > 0]
    np.testing.assert_allclose(np.c_[slopes, intercepts], np.array(ref), atol=1e-10)
    with pytest.raises(ValueError, match="n_boot must be >= 1"):
        bootstrap_fits(ID, OOD, "probit", n_boot=0)
