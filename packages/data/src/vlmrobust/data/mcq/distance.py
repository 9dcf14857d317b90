"""Class x class tree distances (shortest is-a path through a common ancestor), computed once, vectorised.

The distance between two classes is ``min over common ancestors a of depth(i -> a) + depth(j -> a)``,
the number of is-a edges on the shortest path through a shared ancestor (WordNet is a DAG, so several
ancestors may be shared). ImageNet classes use the packaged WordNet hierarchy; the procedural world
uses its 2-level shape hierarchy. A class made of several IN-1k ids (ObjectNet) takes the minimum over
its ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np

from vlmrobust.data.imagenet import metadata, wordnet
from vlmrobust.data.imagenet.samples import ClassSubset


def ancestor_distance_matrix(ancestor_depths: Sequence[Mapping[str, int]]) -> np.ndarray:
    """Tree distances between items given each item's ancestors-or-self with their depth above it.

    Work is ``sum over ancestors a of |items under a|^2`` (not items^2 x nodes): for every node, the
    block of items below it is relaxed with ``depth_i + depth_j`` in one ``np.minimum``.

    Args:
        ancestor_depths: for item i, ``{ancestor: number of is-a steps from i up to it}`` (self at 0).

    Returns:
        ``(n, n)`` int32 matrix, 0 on the diagonal.

    Raises:
        ValueError: two items share no ancestor.
    """
    n = len(ancestor_depths)
    below: dict[str, tuple[list[int], list[int]]] = {}
    for i, depths in enumerate(ancestor_depths):
        for node, d in depths.items():
            items, ds = below.setdefault(node, ([], []))
            items.append(i)
            ds.append(d)
    big = np.iinfo(np.int32).max // 2
    dist = np.full((n, n), big, dtype=np.int32)
    for items, ds in below.values():
        idx = np.asarray(items)
        d = np.asarray(ds, dtype=np.int32)
        block = d[:, None] + d[None, :]  # (m, m) path lengths through this node
        sub = np.ix_(idx, idx)
        dist[sub] = np.minimum(dist[sub], block)
    if (dist == big).any():
        i, j = np.argwhere(dist == big)[0]
        raise ValueError(f"items {i} and {j} share no ancestor; is the hierarchy rooted?")
    return dist


@cache
def _in1k_distance() -> np.ndarray:
    dist = ancestor_distance_matrix([wordnet.ancestors(w) for w in metadata.wnids()])
    dist.setflags(write=False)
    return dist


def in1k_tree_distance() -> np.ndarray:
    """``(1000, 1000)`` WordNet tree distance between the IN-1k classes (cached, read-only)."""
    return _in1k_distance()


def imagenet_tree_distance(classes: ClassSubset) -> np.ndarray:
    """``(K, K)`` WordNet tree distance between the classes of an ImageNet-family label space.

    For multi-id classes (ObjectNet) the distance is the minimum over the ids of the two classes.
    """
    full = in1k_tree_distance()
    if classes.is_full:
        return full
    if all(len(g) == 1 for g in classes.in1k_groups):
        idx = np.array([g[0] for g in classes.in1k_groups])
        return full[np.ix_(idx, idx)]
    k = len(classes)
    out = np.empty((k, k), dtype=full.dtype)
    for a, ga in enumerate(classes.in1k_groups):
        rows = full[list(ga)].min(axis=0)  # (1000,) distance from the closest id of class a
        for b, gb in enumerate(classes.in1k_groups):
            out[a, b] = rows[list(gb)].min()
    np.fill_diagonal(out, 0)
    return out


def world_tree_distance() -> np.ndarray:
    """``(C, C)`` tree distance between the procedural world's classes (its shape-family hierarchy)."""
    from vlmrobust.data.world.classes import CLASS_NAMES, ancestors

    return ancestor_distance_matrix([{node: d for d, node in enumerate(ancestors(c))} for c in CLASS_NAMES])
