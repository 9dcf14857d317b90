"""OOD detection and calibration metrics against scikit-learn, torchmetrics, torch and values by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score, roc_curve
from torchmetrics.classification import MulticlassCalibrationError

from vlmrobust.eval.metrics import (
    auroc,
    expected_calibration_error,
    fit_temperature,
    fpr_at_tpr,
    mcm_scores,
    msp_scores,
    negative_log_likelihood,
)


def _sklearn_fpr95(id_s: np.ndarray, ood_s: np.ndarray) -> float:
    y = np.r_[np.ones(len(id_s)), np.zeros(len(ood_s))]
    fpr, tpr, _ = roc_curve(y, np.r_[id_s, ood_s], drop_intermediate=False)
    return float(fpr[np.argmax(tpr >= 0.95)])


@pytest.mark.parametrize("seed", range(5))
def test_auroc_and_fpr95_equal_scikit_learn_on_random_and_tied_scores(seed: int) -> None:
    rng = np.random.default_rng(seed)
    id_s, ood_s = rng.normal(1, 1, 300), rng.normal(0, 1, 200)
    if seed % 2:  # coarse scores: many ties within and across the sets
        id_s, ood_s = np.round(id_s, 1), np.round(ood_s, 1)
    y = np.r_[np.ones(len(id_s)), np.zeros(len(ood_s))]
    assert auroc(id_s, ood_s) == pytest.approx(roc_auc_score(y, np.r_[id_s, ood_s]), abs=1e-12)
    assert fpr_at_tpr(id_s, ood_s) == pytest.approx(_sklearn_fpr95(id_s, ood_s), abs=1e-12)


def test_ood_metrics_by_hand() -> None:
    assert auroc([3, 2], [1, 0]) == 1.0 and auroc([0, 1], [2, 3]) == 0.0
    assert auroc([5, 5, 5], [5, 5]) == 0.5  # a constant score separates nothing
    assert auroc([2, 1], [1, 0]) == pytest.approx((2 + 1 + 0.5) / 4)  # (2>1, 2>0, 1>0, 1=1: half)
    # 20 ID scores 1..20, OOD 0.5 and 10.5: TPR ≥ 95 % first at threshold 2 (19/20), one OOD (10.5) above it
    assert fpr_at_tpr(np.arange(1, 21), [0.5, 10.5]) == 0.5
    assert fpr_at_tpr([1.0] * 10, [1.0] * 4) == 1.0  # ties move together
    with pytest.raises(ValueError, match="need ID and OOD scores, got 2 ID and 0 OOD"):
        auroc([1, 2], [])


def test_msp_and_mcm_by_hand() -> None:
    assert msp_scores([[0.0, math.log(3)]]) == pytest.approx([0.75])
    assert msp_scores([[7.0]]) == pytest.approx([1.0])  # a single class: always certain
    # MCM: softmax of cosines / τ; cos (0.2, 0.4) at τ = 0.1: e^4 / (e^2 + e^4)
    assert mcm_scores([[0.2, 0.4]], temperature=0.1) == pytest.approx([math.e**4 / (math.e**2 + math.e**4)])
    with pytest.raises(ValueError, match="temperature must be > 0"):
        mcm_scores([[0.2, 0.4]], temperature=0)


@pytest.mark.parametrize("seed", range(4))
def test_ece_equals_torchmetrics_and_nll_equals_torch(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(500, 7, generator=gen, dtype=torch.float64) * (1 + seed)
    labels = torch.randint(7, (500,), generator=gen)
    reference = MulticlassCalibrationError(num_classes=7, n_bins=15, norm="l1")(logits.softmax(-1), labels)
    assert expected_calibration_error(logits.numpy(), labels.numpy()) == pytest.approx(
        float(reference), abs=1e-6
    )
    nll = torch.nn.functional.cross_entropy(logits / 1.7, labels)
    assert negative_log_likelihood(logits.numpy(), labels.numpy(), 1.7) == pytest.approx(
        float(nll), abs=1e-12
    )


def test_ece_by_hand() -> None:
    # two samples, confidences 0.75 (bin 11: [11/15, 12/15)) right and 0.9 (bin 13) wrong
    logits = [[0.0, math.log(3)], [math.log(9), 0.0]]
    expected = 0.5 * abs(1 - 0.75) + 0.5 * abs(0 - 0.9)
    assert expected_calibration_error(logits, [1, 1]) == pytest.approx(expected)
    assert expected_calibration_error([[0.0, 0.0]], [0]) == pytest.approx(0.5)  # tie: index 0, confidence ½


def test_fitted_temperature_is_the_nll_minimiser() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 400)
    logits = rng.normal(0, 1, (400, 10))
    logits[np.arange(400), labels] += 1.5
    logits *= 4  # overconfident: the best temperature is > 1
    t = fit_temperature(logits, labels)
    grid = np.exp(np.linspace(np.log(0.05), np.log(50), 20001))
    best = grid[np.argmin([negative_log_likelihood(logits, labels, g) for g in grid])]
    assert t > 1 and t == pytest.approx(best, rel=1e-3)
    assert negative_log_likelihood(logits, labels, t) <= negative_log_likelihood(logits, labels, 1.0)
