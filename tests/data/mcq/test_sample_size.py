"""Accuracy vs sample size: exact resampling distributions against explicit subsets and closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vlmrobust.data.mcq.sample_size import accuracy_vs_sample_size, sample_size_table


@pytest.fixture(scope="module")
def outcomes() -> np.ndarray:
    return np.random.default_rng(0).random(4000) < 0.8  # T = 4000, ~80 % correct


def test_subsample_matches_explicit_subsets_and_closed_form(outcomes):
    total, p = len(outcomes), outcomes.mean()
    table = accuracy_vs_sample_size(outcomes, (100, 1000, 4000, 9000), num_resamples=4000, seed=1)
    assert table["n"].tolist() == [100, 1000, 4000]  # 9000 > T dropped
    row = table.set_index("n")
    # reference: accuracies of explicit random subsets drawn without replacement
    rng = np.random.default_rng(2)
    ref = np.array([outcomes[rng.choice(total, 1000, replace=False)].mean() for _ in range(2000)])
    # closed form of the subset std: sqrt(p (1 - p) / N * (T - N) / (T - 1))
    closed = np.sqrt(p * (1 - p) / 1000 * (total - 1000) / (total - 1))
    assert row.loc[1000, "std"] == pytest.approx(closed, rel=0.06)
    assert ref.std() == pytest.approx(closed, rel=0.06)
    assert row.loc[1000, "mean"] == pytest.approx(p, abs=0.002)
    assert row.loc[100, "std"] > row.loc[1000, "std"]
    # the whole set: no spread at all
    assert row.loc[4000, "std"] == pytest.approx(0, abs=1e-12) and row.loc[4000, "accuracy"] == p
    assert row.loc[4000, "max_abs_dev"] == 0
    assert row.loc[1000, "ci_low"] < p < row.loc[1000, "ci_high"]


def test_nested_subset_accuracy_by_hand():
    correct = [1, 0, 1, 1]
    table = accuracy_vs_sample_size(correct, (1, 2, 3, 4), num_resamples=10, seed=0)
    perm = np.random.default_rng(0).permutation(4)  # the builder's nested subset: first N of this permutation
    want = [np.mean(np.asarray(correct)[perm[:n]]) for n in (1, 2, 3, 4)]
    np.testing.assert_allclose(table["accuracy"], want)
    assert table["full_accuracy"].iloc[0] == 0.75 and table["total"].iloc[0] == 4


def test_bootstrap_std_and_determinism(outcomes):
    p = outcomes.mean()
    a = accuracy_vs_sample_size(outcomes, (500, 20000), method="bootstrap", num_resamples=4000, seed=3)
    b = accuracy_vs_sample_size(outcomes, (500, 20000), method="bootstrap", num_resamples=4000, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert a["std"].iloc[0] == pytest.approx(np.sqrt(p * (1 - p) / 500), rel=0.06)
    assert np.isnan(a["accuracy"].iloc[1])  # no nested subset larger than T


def test_predictions_frame_grouped():
    df = pd.DataFrame(
        {
            "model": ["a"] * 10 + ["b"] * 10,
            "eval_set": "imagenet-val",
            "sample_id": [f"s{i}" for i in range(10)] * 2,
            "correct": [True] * 10 + [True] * 5 + [False] * 5,
        }
    )
    got = sample_size_table(df, (5, 10), num_resamples=50)
    assert list(got.columns[:2]) == ["model", "eval_set"]
    assert got["model"].tolist() == ["a", "a", "b", "b"]
    assert got["full_accuracy"].tolist() == [1.0, 1.0, 0.5, 0.5]
    assert got.loc[got["model"] == "a", "std"].tolist() == [0.0, 0.0]


def test_bad_input():
    with pytest.raises(ValueError, match="0/1"):
        accuracy_vs_sample_size([0, 2, 1])
    with pytest.raises(KeyError, match="no 'correct' column"):
        sample_size_table(pd.DataFrame({"x": [1]}))
