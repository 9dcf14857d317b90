"""Exact accuracies, per-class accuracy and the classification summary, with values worked out by hand."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score

from vlmrobust.eval.metrics import (
    Accuracy,
    accuracy,
    classification_summary,
    per_class_accuracy,
    per_class_accuracy_from_correct,
)


@pytest.mark.parametrize(
    ("correct", "expected"),
    [
        ([True, False, True, True], Accuracy(3, 4)),
        (np.array([1, 0, 0]), Accuracy(1, 3)),
        (torch.tensor([True, True]), Accuracy(2, 2)),  # all correct
        (torch.zeros(5, dtype=torch.bool), Accuracy(0, 5)),  # all wrong
        ([], Accuracy(0, 0)),  # n = 0
    ],
)
def test_accuracy_counts(correct, expected):
    assert accuracy(correct) == expected


def test_accuracy_value_is_exact_ratio_and_nan_when_empty():
    assert Accuracy(1, 3).value == 1 / 3
    assert float(Accuracy(3, 4)) == 0.75
    assert math.isnan(Accuracy(0, 0).value)


def test_accuracy_counts_exactly_where_float32_mean_does_not():
    n = 2**24 + 1  # float32 cannot hold 16777217
    correct = torch.ones(n, dtype=torch.bool)
    correct[0] = False
    assert accuracy(correct) == Accuracy(2**24, n)


def test_accuracy_rejects_non_binary_and_bad_counts():
    with pytest.raises(ValueError, match="0/1"):
        accuracy([0, 2])
    with pytest.raises(ValueError, match="correct=4, n=3"):
        Accuracy(4, 3)


def test_per_class_accuracy_by_hand_with_an_empty_class():
    pred = [0, 0, 1, 1, 1, 3]
    labels = [0, 1, 1, 1, 3, 3]
    # class 0: 1/1; class 1: 2/3; class 2: no sample; class 3: 1/2
    acc, mean = per_class_accuracy(pred, labels, num_classes=4)
    np.testing.assert_allclose(acc, [1.0, 2 / 3, np.nan, 0.5])
    assert mean == pytest.approx((1.0 + 2 / 3 + 0.5) / 3)


def test_per_class_accuracy_with_no_samples_is_nan():
    acc, mean = per_class_accuracy([], [], num_classes=3)
    assert np.isnan(acc).all() and acc.shape == (3,)
    assert math.isnan(mean)


def test_per_class_accuracy_matches_sklearn_balanced_accuracy():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, size=500)
    pred = np.where(rng.random(500) < 0.6, labels, rng.integers(0, 7, size=500))
    _, mean = per_class_accuracy(torch.as_tensor(pred), torch.as_tensor(labels), 7)
    assert mean == pytest.approx(balanced_accuracy_score(labels, pred), abs=1e-12)


def test_per_class_from_correct_multi_label():
    # the per-sample correctness comes from a multi-label rule; grouping is by the reference label
    correct = [True, True, False, False]
    labels = [2, 2, 2, 0]
    acc, mean = per_class_accuracy_from_correct(correct, labels, num_classes=3)
    np.testing.assert_allclose(acc, [0.0, np.nan, 2 / 3])
    assert mean == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("correct", "labels", "needle"),
    [([True], [0, 1], "1 entries but labels has 2"), ([True, False], [0, 3], r"\[0, 3\)")],
)
def test_per_class_rejects_bad_input(correct, labels, needle):
    with pytest.raises(ValueError, match=needle):
        per_class_accuracy_from_correct(correct, labels, num_classes=3)


def test_classification_summary_names_and_values():
    out = classification_summary(
        [True, False, True, False], [0, 0, 1, 1], num_classes=3, top5_correct=[True, True, True, False]
    )
    assert set(out) == {"top1", "top5", "per_class_mean"}
    assert out["top1"] == Accuracy(2, 4)
    assert out["top5"] == Accuracy(3, 4)
    assert out["per_class_mean"] == pytest.approx(0.5)  # (1/2 + 1/2) / 2
    assert set(classification_summary([True], [0], num_classes=1)) == {"top1", "per_class_mean"}


def test_classification_summary_rejects_top5_of_another_length():
    with pytest.raises(ValueError, match="top5_correct has 1 entries but correct has 2"):
        classification_summary([True, False], [0, 1], 2, top5_correct=[True])
