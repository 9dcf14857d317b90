"""Accuracy transforms: round trips, golden values and the clipping rule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vlmrobust.core.transforms import (
    clip_accuracy,
    get_transform,
    inv_logit,
    inv_probit,
    linear,
    logit,
    probit,
    transform_accuracy,
)


@pytest.mark.parametrize("name", ["probit", "logit", "linear"])
def test_round_trip(name: str) -> None:
    t = get_transform(name)
    acc = np.linspace(0.001, 0.999, 101)
    np.testing.assert_allclose(t.inverse(t.forward(acc)), acc, rtol=0, atol=1e-12)


def test_golden_values() -> None:
    # Φ(1) = 0.841344746068542948… (standard normal table); logit(0.75) = log 3.
    assert probit(0.5) == pytest.approx(0.0, abs=1e-15)
    assert probit(0.8413447460685429) == pytest.approx(1.0, abs=1e-12)
    assert probit(0.15865525393145707) == pytest.approx(-1.0, abs=1e-12)
    assert logit(0.75) == pytest.approx(math.log(3.0), abs=1e-15)
    assert inv_logit(math.log(3.0)) == pytest.approx(0.75, abs=1e-15)
    assert inv_probit(1.0) == pytest.approx(0.8413447460685429, abs=1e-15)
    assert linear(0.3) == 0.3
    assert transform_accuracy(0.75, "logit") == pytest.approx(math.log(3.0))


def test_clipping_with_known_n() -> None:
    # n = 1000: bounds are 1/2000 = 0.0005 and 0.9995; points exactly on a bound are not clipped.
    acc = np.array([0.0, 0.0005, 0.3, 0.9995, 1.0])
    out, flagged = clip_accuracy(acc, 1000)
    np.testing.assert_array_equal(out, [0.0005, 0.0005, 0.3, 0.9995, 0.9995])
    np.testing.assert_array_equal(flagged, [True, False, False, False, True])
    values, flags = get_transform("probit").forward_flagged(acc, 1000)
    assert values[0] == pytest.approx(-3.2905267314918945, abs=1e-9)  # Φ⁻¹(0.0005), normal table
    assert flags.tolist() == [True, False, False, False, True]


def test_clipping_without_n_and_per_point_n() -> None:
    out, flagged = clip_accuracy([0.0, 1.0, 0.5], None)
    np.testing.assert_array_equal(out, [1e-6, 1 - 1e-6, 0.5])
    assert flagged.tolist() == [True, True, False]
    # Per-point sample counts; NaN means unknown and falls back to 1e-6.
    out, flagged = clip_accuracy([0.0, 0.0, 1.0], [10, np.nan, 50])
    np.testing.assert_array_equal(out, [0.05, 1e-6, 0.99])
    assert flagged.all()
    assert logit(0.0, 10) == pytest.approx(math.log(0.05 / 0.95))


def test_linear_never_clips_and_nan_passes() -> None:
    values, flags = get_transform("linear").forward_flagged([0.0, 1.0, np.nan])
    np.testing.assert_array_equal(values[:2], [0.0, 1.0])
    assert np.isnan(values[2]) and not flags.any()
    assert np.isnan(probit(np.nan))


def test_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="divide percentages by 100"):
        probit([0.5, 76.1])
    with pytest.raises(ValueError, match="fractions"):
        linear([-0.1])


def test_unknown_transform_suggests() -> None:
    with pytest.raises(ValueError, match=r"Did you mean 'probit'.*Valid transforms: linear, logit, probit"):
        get_transform("probt")  # type: ignore[arg-type]
