"""Classes and hierarchy of the procedural world."""

from __future__ import annotations

import re

import numpy as np
import pytest

from vlmrobust.data.world import (
    CLASS_NAMES,
    FAMILIES,
    PARENT,
    ROOT,
    ancestors,
    class_index,
    family,
    tree_distance,
)
from vlmrobust.data.world.geometry import SHAPES, shape_rings


def test_class_list_shape():
    assert 12 <= len(CLASS_NAMES) <= 20
    assert len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    assert all(re.fullmatch(r"[a-z]+", c) for c in CLASS_NAMES)  # one word: same surface form in prompts
    assert tuple(SHAPES) == CLASS_NAMES  # every class has a geometry, in label order
    assert len(FAMILIES) >= 3
    assert all(len(members) >= 2 for members in FAMILIES.values())


def test_hierarchy_distances_by_hand():
    assert ancestors("circle") == ["circle", "round", ROOT]
    assert PARENT["hexagon"] == "polygon" and PARENT["polygon"] == ROOT
    assert tree_distance("circle", "circle") == 0
    assert tree_distance("circle", "ring") == 2  # circle -> round -> ring
    assert tree_distance("square", "hexagon") == 2
    assert tree_distance("circle", "square") == 4  # circle -> round -> shape -> polygon -> square
    assert tree_distance("star", "crescent") == 4
    assert tree_distance("circle", "round") == 1
    assert tree_distance("circle", ROOT) == 2


def test_distance_is_2_within_and_4_across_families_for_all_pairs():
    for a in CLASS_NAMES:
        for b in CLASS_NAMES:
            expected = 0 if a == b else 2 if family(a) == family(b) else 4
            assert tree_distance(a, b) == expected, (a, b)


def test_unknown_class_lists_choices():
    with pytest.raises(KeyError, match=r"Did you mean 'circle'.*Valid classes: .*hexagon"):
        class_index("circel")
    assert class_index("square") == CLASS_NAMES.index("square")


def test_unit_shapes_are_normalised():
    rng = np.random.default_rng(0)
    for name in CLASS_NAMES:
        rings = shape_rings(name, rng)
        pts = np.concatenate([p for p, _ in rings])
        lo, hi = pts.min(0), pts.max(0)
        np.testing.assert_allclose((lo + hi) / 2, 0, atol=1e-9, err_msg=name)
        assert np.isclose((hi - lo).max() / 2, 1.0), name
