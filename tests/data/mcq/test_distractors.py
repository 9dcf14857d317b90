"""Distractor samplers: exclusion, nearest-first, uniform tie-breaking, determinism."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from vlmrobust.data.mcq import NearestClasses, UniformStream, random_distractors


def stream(seed: int = 0) -> UniformStream:
    return UniformStream(np.random.default_rng(seed))


def line_distance(positions: list[float]) -> np.ndarray:
    p = np.asarray(positions, dtype=float)
    return np.abs(p[:, None] - p[None, :])


def test_random_excludes_and_is_uniform():
    draw = stream()
    counts: Counter[int] = Counter()
    for _ in range(4000):
        got = random_distractors(10, {0, 3}, 4, draw)
        assert len(set(got)) == 4 and not {0, 3} & set(got)
        counts.update(got)
    # 8 allowed classes, 16000 draws: 2000 each expected
    assert set(counts) == {1, 2, 4, 5, 6, 7, 8, 9}
    assert all(1800 < c < 2200 for c in counts.values())


def test_random_exact_when_only_k_left():
    assert sorted(random_distractors(6, (0, 1, 2), 3, stream())) == [3, 4, 5]
    with pytest.raises(ValueError, match="only 2 classes"):
        random_distractors(5, (0, 1, 2), 3, stream())


def test_nearest_picks_nearest_outside_exclude():
    nearest = NearestClasses(line_distance([0, 1, 3, 6, 10, 15]))
    assert sorted(nearest(0, (0,), 2, stream())) == [1, 2]
    assert sorted(nearest(0, (0, 1), 2, stream())) == [2, 3]  # 1 is also a correct label
    assert sorted(nearest(3, (3,), 3, stream())) == [1, 2, 4]  # |6-3| = 3, |6-1| = 5, |6-10| = 4


def test_nearest_ties_broken_uniformly():
    nearest = NearestClasses(line_distance([0, 1, 2, 2, 2]))  # classes 2, 3, 4 tie at distance 2
    draw = stream(1)
    seen: Counter[tuple[int, ...]] = Counter()
    for _ in range(3000):
        got = nearest(0, (0,), 2, draw)
        assert got[0] == 1  # strictly nearest always kept
        seen[tuple(sorted(got))] += 1
    assert set(seen) == {(1, 2), (1, 3), (1, 4)} and all(900 < c < 1100 for c in seen.values())


def test_nan_distances_sort_last():
    d = line_distance([0, 1, 2, 3])
    d[:, 1] = np.nan  # class 1 has no centroid
    assert sorted(NearestClasses(d)(0, (0,), 2, stream())) == [2, 3]


def test_stream_is_deterministic():
    a, b = stream(5), stream(5)
    assert [a.below(1000) for _ in range(50)] == [b.below(1000) for _ in range(50)]
