"""Gaussian location model: probit linearity (Theorem 1) and Monte Carlo agreement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from vlmrobust.core.theory import TheoryConfig, directions, expected_accuracy, predicted_slope, simulate


def test_predicted_slope_by_hand() -> None:
    # ρ_OOD cos(60°) / (ρ_ID cos(0°)) = 1.5 · 0.5 / 2 = 0.375
    assert predicted_slope(rho_id=2.0, rho_ood=1.5, angle_id=0.0, angle_ood=60.0) == pytest.approx(0.375)
    cfg = TheoryConfig(rho_id=1.0, rho_ood=1.0, angle_id=60.0, angle_ood=60.0)
    assert cfg.predicted_slope == pytest.approx(1.0)


def test_directions_have_the_requested_angles() -> None:
    theta, t_id, t_ood = directions(10, 20.0, 45.0)
    for v in (theta, t_id, t_ood):
        assert np.linalg.norm(v) == pytest.approx(1.0)
    assert theta @ t_id == pytest.approx(math.cos(math.radians(20)))
    assert theta @ t_ood == pytest.approx(math.cos(math.radians(45)))


def test_probit_points_lie_on_the_predicted_line() -> None:
    cfg = TheoryConfig(d=4000, ns=(50, 100, 200, 400, 800, 1600, 3200), xis=(0.5, 1.0, 2.0), reps=2, seed=0)
    df = simulate(cfg)
    assert len(df) == 7 * 3 * 2 and df.id_acc.between(0.5, 1).all()
    assert df.id_acc.max() - df.id_acc.min() > 0.3  # the points really spread along the line
    x, y = norm.ppf(df.id_acc), norm.ppf(df.ood_acc)
    slope, intercept = np.polyfit(x, y, 1)
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    expected = 1.5 * math.cos(math.radians(45)) / (2.0 * math.cos(math.radians(20)))
    assert abs(slope / expected - 1) < 0.03 and r2 >= 0.99
    assert abs(intercept) < 0.05  # the line passes (near) the origin = chance
    # The slope is universal: the same for each training-noise level ξ on its own.
    for xi in cfg.xis:
        sub = df[df.xi == xi]
        s, _ = np.polyfit(norm.ppf(sub.id_acc), norm.ppf(sub.ood_acc), 1)
        assert abs(s / expected - 1) < 0.05


def test_closed_form_follows_the_large_d_limit() -> None:
    df = simulate(d=4000, ns=[200, 3200], xis=[1.0], reps=5, seed=1)
    for n, group in df.groupby("n"):
        ref = expected_accuracy(n, 1.0, 4000, rho=2.0, rho_k=2.0, angle_k=20.0)
        assert group.id_acc.mean() == pytest.approx(ref, abs=0.01)


@pytest.mark.slow
def test_monte_carlo_test_sets_agree_with_closed_form() -> None:
    m = 20_000
    df = simulate(d=1000, ns=(100, 1600), xis=(1.0,), reps=1, seed=3, mc_samples=m)
    for closed, mc in (("id_acc", "mc_id_acc"), ("ood_acc", "mc_ood_acc")):
        p = df[closed].to_numpy()
        bound = 4 * np.sqrt(p * (1 - p) / m)
        assert np.all(np.abs(df[mc] - p) <= bound), (df[[closed, mc]], bound)
    assert (df.mc_samples == m).all()


def test_seeded_and_validated() -> None:
    a = simulate(d=50, ns=(10, 20), xis=(1.0,), reps=1, seed=5)
    b = simulate(TheoryConfig(d=50, ns=(10, 20), xis=(1.0,), reps=1, seed=5))
    assert a.equals(b)
    assert not a.equals(simulate(d=50, ns=(10, 20), xis=(1.0,), reps=1, seed=6))
    with pytest.raises(ValueError, match="angles"):
        TheoryConfig(angle_ood=95.0)
