"""fit_robustness over a wide table: lines, effective robustness, units, skips and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vlmrobust.core.effective import effective_robustness
from vlmrobust.core.linefit import fit_line
from vlmrobust.core.robustness import EFFECTIVE_COLUMNS, RobustnessInputError, fit_robustness

TABLE = pd.DataFrame(
    {
        "model": ["a", "b", "c", "d", "e", "clip"],
        "val": [60.0, 68.0, 74.0, 79.0, 83.0, 70.0],
        "v2": [48.0, 55.0, 62.0, 67.0, 72.0, 63.0],
        "sketch": [20.0, np.nan, 30.0, 33.0, 38.0, 45.0],
    }
)
BASE = ["a", "b", "c", "d", "e"]


def test_lines_and_effective_robustness_against_closed_form() -> None:
    report = fit_robustness(TABLE, "val", ["v2", "sketch"], baseline=BASE)
    assert report.units == "percent" and report.transform == "probit"
    assert list(report.effective.columns[: len(EFFECTIVE_COLUMNS)]) == list(EFFECTIVE_COLUMNS)
    for ood in ("v2", "sketch"):
        base = TABLE[TABLE.model.isin(BASE)].dropna(subset=[ood])
        slope, intercept = np.polyfit(norm.ppf(base.val / 100), norm.ppf(base[ood] / 100), 1)
        assert (report.lines[ood].slope, report.lines[ood].intercept) == pytest.approx(
            (slope, intercept), abs=1e-12
        )
        clip = report.points(ood).set_index("model").loc["clip"]
        predicted = 100 * norm.cdf(slope * norm.ppf(0.70) + intercept)
        ood_clip = TABLE.set_index("model").loc["clip", ood]
        assert clip.predicted_ood_acc == pytest.approx(predicted, abs=1e-10)
        assert clip.effective_robustness == pytest.approx(ood_clip - predicted, abs=1e-10)
        assert clip.er_transformed == pytest.approx(
            norm.ppf(ood_clip / 100) - (slope * norm.ppf(0.7) + intercept)
        )
        assert not clip.baseline
    assert report.skipped == {"v2": 0, "sketch": 1} and report.skipped_models["sketch"] == ("b",)
    assert len(report.points("sketch")) == 5


def test_fraction_input_keeps_fraction_units() -> None:
    frac = TABLE.assign(**{c: TABLE[c] / 100 for c in ("val", "v2", "sketch")})
    pct = fit_robustness(TABLE, "val", ["v2"], baseline=BASE).effective
    out = fit_robustness(frac, "val", ["v2"], baseline=BASE)
    assert out.units == "fraction"
    np.testing.assert_allclose(out.effective.effective_robustness * 100, pct.effective_robustness, atol=1e-10)
    np.testing.assert_allclose(out.effective.id_acc, frac.val)


def test_default_baseline_is_every_model() -> None:
    report = fit_robustness(TABLE, "val", ["v2"])
    assert report.lines["v2"].n == 6 and report.effective.baseline.all()


def test_effective_robustness_scalar_and_array() -> None:
    line = fit_line([0.6, 0.7, 0.8], [0.5, 0.55, 0.7])
    er, er_t = effective_robustness(line, 0.75, 0.7)
    assert float(er) == pytest.approx(0.7 - line.predict(0.75))
    assert float(er_t) == pytest.approx(norm.ppf(0.7) - (line.slope * norm.ppf(0.75) + line.intercept))
    er, _ = effective_robustness(line, np.array([0.6, 0.9]), np.array([0.5, 0.9]))
    assert er.shape == (2,)


def test_sample_counts_clip_flag_and_intervals() -> None:
    table = pd.DataFrame({"model": ["a", "b", "c"], "val": [0.5, 0.7, 1.0], "v2": [0.4, 0.6, 0.9]})
    report = fit_robustness(table, "val", ["v2"], n_samples={"val": 1000, "v2": 100})
    eff = report.effective.set_index("model")
    assert eff.clipped.tolist() == [False, False, True]
    # Accuracy 1.0 on n = 1000 is clipped to 0.9995 before the probit.
    x = norm.ppf([0.5, 0.7, 0.9995])
    slope, _ = np.polyfit(x, norm.ppf([0.4, 0.6, 0.9]), 1)
    assert report.lines["v2"].slope == pytest.approx(slope, abs=1e-12)
    assert eff.loc["a", "ood_ci_low"] == pytest.approx(0.30329, abs=1e-4)  # exact CI of 40/100
    assert np.isfinite(eff.id_ci_high).all()


def test_unknown_column_names_available_columns() -> None:
    with pytest.raises(
        RobustnessInputError, match=r"'v3'.*Did you mean 'v2'.*Valid columns: sketch, v2, val"
    ):
        fit_robustness(TABLE, "val", ["v3"])
    with pytest.raises(RobustnessInputError, match="model column 'name'"):
        fit_robustness(TABLE, "val", ["v2"], model_col="name")


def test_unknown_baseline_model_is_named() -> None:
    with pytest.raises(RobustnessInputError, match="not in the table: zzz"):
        fit_robustness(TABLE, "val", ["v2"], baseline=["a", "b", "zzz"])


def test_too_few_baseline_points() -> None:
    with pytest.raises(RobustnessInputError, match="'sketch': only 1 baseline model"):
        fit_robustness(TABLE, "val", ["sketch"], baseline=["a", "b"])


def test_bad_values_are_reported() -> None:
    with pytest.raises(RobustnessInputError, match="duplicated: a"):
        fit_robustness(pd.concat([TABLE, TABLE.iloc[:1]]), "val", ["v2"])
    bad = TABLE.astype({"v2": object})
    bad.loc[2, "v2"] = "n/a?"
    with pytest.raises(RobustnessInputError, match=r"'v2', model 'c'.*not a number"):
        fit_robustness(bad, "val", ["v2"])
    with pytest.raises(RobustnessInputError, match="outside"):
        fit_robustness(TABLE.assign(v2=TABLE.v2 + 50), "val", ["v2"])
