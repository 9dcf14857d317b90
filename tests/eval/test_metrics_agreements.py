"""Erroneous-agreement metrics: benchmark pairs, pair cosines and similarity-binned pair accuracy (by hand)."""

import numpy as np
import pytest
from scipy.stats import beta

from vlmrobust.eval.metrics.agreements import benchmark_pairs, binned_pair_accuracy, pair_cosines


def test_whatsup_pairs_group_opposite_relations_and_a_later_duplicate_wins():
    meta = [
        {"group": "mug|table", "relation": "left"},
        {"group": "mug|table", "relation": "right"},
        {"group": "mug|table", "relation": "on"},
        {"group": "mug|table", "relation": "under"},
        {"group": "cup|chair", "relation": "left"},  # no right: no pair
        {"group": "cup|chair", "relation": "on"},
        {"group": "mug|table", "relation": "left"},  # duplicate: replaces record 0
        {"group": "cup|chair", "relation": "under"},
    ]
    assert benchmark_pairs("whatsup", meta) == [(6, 1, "left/right"), (2, 3, "on/under"), (5, 7, "on/under")]


def test_mmvp_pairs_drop_incomplete_pairs():
    meta = [{"pair": 0}, {"pair": 0}, {"pair": 1}, {"pair": 2}, {"pair": 2}]
    assert benchmark_pairs("mmvp", meta) == [(0, 1, "pair"), (3, 4, "pair")]
    with pytest.raises(ValueError, match="no image pairs"):
        benchmark_pairs("aro-relation", meta)


def test_pair_cosines_by_hand():
    emb = np.array([[1.0, 0.0], [3.0, 4.0], [0.0, 2.0]])
    assert pair_cosines(emb, [(0, 1, "k"), (1, 2, "k")]) == pytest.approx([0.6, 0.8])


def test_bins_count_pairs_accuracy_and_clopper_pearson_intervals():
    cos = np.array([0.10, 0.40, 0.50, 0.90, 1.00, 0.95])
    ok = np.array([True, False, True, True, False, True])
    bins = binned_pair_accuracy(cos, ok, [0.0, 0.5, 1.0])
    first, last = bins
    assert (first.pairs, first.correct) == (2, 1)  # 0.10, 0.40 (0.50 belongs to the next bin)
    assert (last.pairs, last.correct) == (4, 3)  # 0.50, 0.90, 0.95 and 1.00 (the last bin is closed)
    assert last.accuracy == 0.75 and last.mean_cosine == pytest.approx(np.mean([0.5, 0.9, 1.0, 0.95]))
    assert last.ci_low == pytest.approx(beta.ppf(0.025, 3, 2))
    assert last.ci_high == pytest.approx(beta.ppf(0.975, 4, 1))
    empty = binned_pair_accuracy(cos, ok, [2.0, 3.0])[0]
    assert empty.pairs == 0 and np.isnan(empty.accuracy)
    with pytest.raises(ValueError, match="increase"):
        binned_pair_accuracy(cos, ok, [0.5, 0.5])
