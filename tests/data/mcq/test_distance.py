"""Tree distances: a hand-made DAG, WordNet pairs against a brute-force reference, ObjectNet groups."""

from __future__ import annotations

import numpy as np

from vlmrobust.data.imagenet import imagenet_r_classes, metadata, objectnet_classes, wordnet
from vlmrobust.data.mcq import (
    ancestor_distance_matrix,
    imagenet_tree_distance,
    in1k_tree_distance,
    world_tree_distance,
)


def brute_distance(a: str, b: str) -> int:
    up_a, up_b = wordnet.ancestors(a), wordnet.ancestors(b)
    return min(up_a[n] + up_b[n] for n in up_a if n in up_b)


def test_hand_made_dag():
    #        r
    #      /   \
    #     a     b
    #    / \   / \
    #   x   y w   z      (w has two parents: a and b)
    ancestors = {
        "x": {"x": 0, "a": 1, "r": 2},
        "y": {"y": 0, "a": 1, "r": 2},
        "z": {"z": 0, "b": 1, "r": 2},
        "w": {"w": 0, "a": 1, "b": 1, "r": 2},
    }
    got = ancestor_distance_matrix(list(ancestors.values()))
    # x-y via a: 2; x-z via r: 4; x-w via a: 2; z-w via b: 2; y-z 4; y-w 2
    expected = np.array([[0, 2, 4, 2], [2, 0, 4, 2], [4, 4, 0, 2], [2, 2, 2, 0]])
    np.testing.assert_array_equal(got, expected)


def test_in1k_matches_brute_force():
    dist = in1k_tree_distance()
    wnids = metadata.wnids()
    assert dist.shape == (1000, 1000) and (np.diag(dist) == 0).all() and (dist == dist.T).all()
    rng = np.random.default_rng(0)
    for i, j in rng.integers(1000, size=(60, 2)):
        assert dist[i, j] == brute_distance(wnids[i], wnids[j])
    assert dist[0, 1] == 2  # tench and goldfish: both cyprinids


def test_subset_restriction_and_objectnet_min_over_ids():
    r = imagenet_r_classes()
    full = in1k_tree_distance()
    idx = [g[0] for g in r.in1k_groups]
    np.testing.assert_array_equal(imagenet_tree_distance(r), full[np.ix_(idx, idx)])
    on = objectnet_classes()
    got = imagenet_tree_distance(on)
    a = next(k for k, g in enumerate(on.in1k_groups) if len(g) > 1)  # a class mapped to several ids
    for b in (0, 50, 112):
        if b != a:
            want = min(full[i, j] for i in on.in1k_groups[a] for j in on.in1k_groups[b])
            assert got[a, b] == want
    assert (np.diag(got) == 0).all()


def test_world_hierarchy():
    d = world_tree_distance()
    # siblings in a family are 2 apart, classes of different families 4 (through the root)
    assert d[0, 1] == 2 and d[0, 17] == 4 and d[0, 0] == 0
