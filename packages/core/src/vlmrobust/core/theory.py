"""The Gaussian location model behind probit linearity (Theorem 1 of the VLM-robustness paper, §2–3).

Data from a distribution ``(θ_k, ρ_k)``: labels ``y = ±1`` uniformly and
``x = y·θ_k + (‖θ_k‖/ρ_k)·z`` with ``z ~ N(0, I_d)``. A head trained on ``n`` samples of the
training distribution ``(θ, ρ)`` is modelled as ``θ̂ = θ + ξ·‖θ‖/(ρ√n)·z′`` (ξ = 1 is the
class-mean estimator ``(1/n) Σ yᵢxᵢ``). Its accuracy on ``(θ_k, ρ_k)`` is exactly
``Φ(ρ_k · cos(θ_k, θ̂))``, so for every n and ξ

    Φ⁻¹(Acc_OOD) ≈ [ρ_OOD cos(θ_OOD, θ)] / [ρ_ID cos(θ_ID, θ)] · Φ⁻¹(Acc_ID),

a line through the origin whose slope depends only on the geometry.

Geometry used here: ``θ = e₁`` (all directions unit norm; norms cancel in every accuracy),
``θ_ID = cos(a_ID)·e₁ + sin(a_ID)·e₂`` and ``θ_OOD = cos(a_OOD)·e₁ + sin(a_OOD)·e₃``: the two test
directions tilt away from the training direction along independent axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr


@dataclass(frozen=True)
class TheoryConfig:
    """Parameters of a probit-linearity simulation (defaults give a clear line in ~10 ms)."""

    d: int = 4000  # feature dimension
    ns: tuple[int, ...] = (50, 100, 200, 400, 800, 1600, 3200)  # training-set sizes n
    xis: tuple[float, ...] = (0.5, 1.0, 2.0)  # training-noise multipliers ξ (1 = class-mean estimator)
    rho: float = 2.0  # SNR ρ of the training distribution
    rho_id: float = 2.0  # SNR ρ_ID of the ID test distribution
    rho_ood: float = 1.5  # SNR ρ_OOD of the OOD test distribution
    angle_id: float = 20.0  # angle between θ_ID and the training direction θ, in degrees
    angle_ood: float = 45.0  # angle between θ_OOD and θ, in degrees
    reps: int = 2  # independent heads per (n, ξ)
    seed: int = 0  # seed of numpy.random.default_rng
    mc_samples: int | None = None  # if set, also estimate accuracies on sampled test sets of this size
    mc_chunk: int = field(default=2048, repr=False)  # test samples drawn per chunk (bounds memory)

    def __post_init__(self) -> None:
        if self.d < 3:
            raise ValueError(f"d must be >= 3 (θ, θ_ID, θ_OOD need 3 axes), got {self.d}")
        if min(self.ns, default=0) < 1 or not self.xis or min(self.xis) <= 0:
            raise ValueError("ns must be positive integers and xis positive numbers (both non-empty)")
        if min(self.rho, self.rho_id, self.rho_ood) <= 0:
            raise ValueError("SNRs rho, rho_id, rho_ood must be positive")
        if not (0 <= self.angle_id < 90 and 0 <= self.angle_ood < 90):
            raise ValueError("angles must be in [0, 90) degrees so that both accuracies exceed chance")
        if self.reps < 1 or (self.mc_samples is not None and self.mc_samples < 1):
            raise ValueError("reps and mc_samples must be >= 1")

    @property
    def predicted_slope(self) -> float:
        """Slope of the probit line that Theorem 1 predicts for this geometry."""
        return predicted_slope(self.rho_id, self.rho_ood, self.angle_id, self.angle_ood)


def predicted_slope(rho_id: float, rho_ood: float, angle_id: float, angle_ood: float) -> float:
    """Slope ``ρ_OOD cos(θ_OOD, θ) / (ρ_ID cos(θ_ID, θ))`` of the probit line (angles in degrees)."""
    return rho_ood * np.cos(np.deg2rad(angle_ood)) / (rho_id * np.cos(np.deg2rad(angle_id)))


def expected_accuracy(n: float, xi: float, d: int, rho: float, rho_k: float, angle_k: float) -> float:
    """Large-d accuracy ``Φ(ρ_k cos(a_k) / √(1 + ξ²d/(ρ²n)))`` on a test distribution at angle ``a_k``.

    ``‖θ̂‖² ≈ ‖θ‖²(1 + ξ²d/(ρ²n))`` concentrates as d grows; when ``ξ²d/(ρ²n) ≫ 1`` this is the
    paper's limit ``Φ(cos(θ_k, θ)·ρ_k·ρ·α/ξ)`` with ``α² = n/d``.
    """
    return float(ndtr(rho_k * np.cos(np.deg2rad(angle_k)) / np.sqrt(1.0 + xi**2 * d / (rho**2 * n))))


def directions(d: int, angle_id: float, angle_ood: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors ``(θ, θ_ID, θ_OOD)`` in R^d with the given angles (degrees) to θ."""
    theta, theta_id, theta_ood = np.zeros(d), np.zeros(d), np.zeros(d)
    a_id, a_ood = np.deg2rad(angle_id), np.deg2rad(angle_ood)
    theta[0] = 1.0
    theta_id[0], theta_id[1] = np.cos(a_id), np.sin(a_id)
    theta_ood[0], theta_ood[2] = np.cos(a_ood), np.sin(a_ood)
    return theta, theta_id, theta_ood


def _cos(u: np.ndarray, v: np.ndarray) -> float:
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))


def monte_carlo_accuracy(
    head: np.ndarray, theta_k: np.ndarray, rho_k: float, m: int, rng: np.random.Generator, chunk: int = 2048
) -> float:
    """Accuracy of ``sign(⟨x, head⟩)`` on ``m`` test samples drawn from ``(θ_k, ρ_k)``.

    Draws ``y = ±1`` and ``z ~ N(0, I_d)`` in full dimension, in chunks of ``chunk`` rows, and
    scores ``⟨x, head⟩ = y·⟨θ_k, head⟩ + (‖θ_k‖/ρ_k)·⟨z, head⟩`` for ``x = y·θ_k + (‖θ_k‖/ρ_k)·z``
    without materialising x (the same numbers, a third of the memory traffic).
    """
    d = theta_k.size
    noise_scale = np.linalg.norm(theta_k) / rho_k
    signal = float(theta_k @ head)
    head32 = head.astype(np.float32)
    correct = 0
    for start in range(0, m, chunk):
        b = min(chunk, m - start)
        y = rng.choice(np.array([-1.0, 1.0]), size=b)  # (b,)
        z = rng.standard_normal((b, d), dtype=np.float32)  # (b, d)
        score = y * signal + noise_scale * (z @ head32)  # (b,) = ⟨x, head⟩
        correct += int((np.sign(score) == y).sum())
    return correct / m


def simulate(config: TheoryConfig | None = None, /, **overrides: Any) -> pd.DataFrame:
    """Sample trained heads and their ID/OOD accuracies, in closed form (and by Monte Carlo).

    Args:
        config: simulation parameters (defaults: :class:`TheoryConfig`).
        **overrides: fields of :class:`TheoryConfig` to replace, e.g. ``simulate(d=1000, reps=3)``.

    Returns:
        One row per head with columns ``n, xi, rep, id_acc, ood_acc, probit_id, probit_ood,
        cos_id, cos_ood`` (accuracies as fractions, exact for the sampled head), plus
        ``mc_id_acc, mc_ood_acc, mc_samples`` when ``mc_samples`` is set.
    """
    cfg = replace(config or TheoryConfig(), **_as_tuples(overrides))
    rng = np.random.default_rng(cfg.seed)
    theta, theta_id, theta_ood = directions(cfg.d, cfg.angle_id, cfg.angle_ood)
    rows = []
    for n in cfg.ns:
        for xi in cfg.xis:
            for rep in range(cfg.reps):
                head = theta + xi * np.linalg.norm(theta) / (cfg.rho * np.sqrt(n)) * rng.standard_normal(
                    cfg.d
                )
                cos_id, cos_ood = _cos(theta_id, head), _cos(theta_ood, head)
                row = {
                    "n": int(n),
                    "xi": float(xi),
                    "rep": rep,
                    "id_acc": float(ndtr(cfg.rho_id * cos_id)),
                    "ood_acc": float(ndtr(cfg.rho_ood * cos_ood)),
                    "probit_id": cfg.rho_id * cos_id,
                    "probit_ood": cfg.rho_ood * cos_ood,
                    "cos_id": cos_id,
                    "cos_ood": cos_ood,
                }
                if cfg.mc_samples is not None:
                    m = cfg.mc_samples
                    row["mc_id_acc"] = monte_carlo_accuracy(head, theta_id, cfg.rho_id, m, rng, cfg.mc_chunk)
                    row["mc_ood_acc"] = monte_carlo_accuracy(
                        head, theta_ood, cfg.rho_ood, m, rng, cfg.mc_chunk
                    )
                    row["mc_samples"] = m
                rows.append(row)
    return pd.DataFrame(rows)


def _as_tuples(overrides: dict[str, Any]) -> dict[str, Any]:
    return {
        k: tuple(v) if isinstance(v, Sequence) and not isinstance(v, str) else v for k, v in overrides.items()
    }
