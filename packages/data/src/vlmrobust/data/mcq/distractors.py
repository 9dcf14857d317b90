"""Distractor samplers: uniform over the other classes, or nearest classes under a class x class distance.

Both are O(K + |correct labels|) per question (plus the size of a distance tie at the cut-off): the
nearest-neighbour order of every class and its tie blocks are computed once, up front, and random draws
come from a buffered stream of uniforms rather than one numpy call per question.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np


class UniformStream:
    """Buffered uniform integers from a seeded ``numpy.random.Generator`` (deterministic by seed).

    Args:
        rng: the generator that fills the buffer.
        chunk: uniforms drawn per refill.
    """

    def __init__(self, rng: np.random.Generator, chunk: int = 1 << 16) -> None:
        self.rng, self.chunk = rng, chunk
        self._buf: list[float] = []
        self._pos = 0

    def below(self, n: int) -> int:
        """A uniform integer in ``range(n)``."""
        if self._pos == len(self._buf):
            self._buf, self._pos = self.rng.random(self.chunk).tolist(), 0
        u = self._buf[self._pos]
        self._pos += 1
        return int(u * n)

    def sample(self, population: list[int], k: int) -> list[int]:
        """``k`` distinct items of ``population`` drawn uniformly (in draw order)."""
        if k > len(population):
            raise ValueError(f"cannot draw {k} distinct items from {len(population)}")
        if 2 * k > len(population):  # dense: partial Fisher-Yates
            pool = list(population)
            for i in range(k):
                j = i + self.below(len(pool) - i)
                pool[i], pool[j] = pool[j], pool[i]
            return pool[:k]
        picked: dict[int, None] = {}
        while len(picked) < k:  # sparse: rejection
            picked.setdefault(self.below(len(population)))
        return [population[i] for i in picked]


def random_distractors(num_classes: int, exclude: Collection[int], k: int, draw: UniformStream) -> list[int]:
    """``k`` distinct classes drawn uniformly from ``range(num_classes)`` minus ``exclude``.

    Raises:
        ValueError: fewer than ``k`` classes are left after excluding.
    """
    taken = set(exclude)
    left = num_classes - len(taken)
    if left < k:
        raise ValueError(f"need {k} distractors but only {left} classes are left")
    if 2 * (k + len(taken)) > num_classes:  # few classes: draw from the explicit list
        return draw.sample([c for c in range(num_classes) if c not in taken], k)
    out: list[int] = []
    while len(out) < k:  # rejection sampling: cheap when the excluded set is a small part of the classes
        c = draw.below(num_classes)
        if c not in taken:
            taken.add(c)
            out.append(c)
    return out


class NearestClasses:
    """Picks the classes nearest to an anchor class under a fixed ``(C, C)`` distance matrix.

    The ``k`` nearest classes that are not excluded are returned; among the classes tied with the k-th
    at the cut-off, the needed number is chosen uniformly (WordNet distances are small integers, so ties
    are common: the dog breeds are all within a few steps of each other). Infinite or NaN distances
    (e.g. a class without a visual centroid) sort last.

    Args:
        distance: ``(C, C)`` distances; row ``a`` gives the distance from anchor ``a`` to every class.
    """

    def __init__(self, distance: np.ndarray) -> None:
        distance = np.asarray(distance, dtype=np.float64)
        if distance.ndim != 2 or distance.shape[0] != distance.shape[1]:
            raise ValueError(f"distance must be a square (C, C) matrix, got shape {distance.shape}")
        distance = np.where(np.isnan(distance), np.inf, distance)
        c = self.num_classes = distance.shape[0]
        order = np.argsort(distance, axis=1, kind="stable")  # (C, C) classes by distance from the anchor
        dists = np.take_along_axis(distance, order, axis=1)  # (C, C) the distances in that order
        # tie blocks: for position p of row a, the block of equal distances is [lo[a, p], hi[a, p])
        new_block = np.ones((c, c), dtype=bool)
        new_block[:, 1:] = dists[:, 1:] != dists[:, :-1]
        pos = np.broadcast_to(np.arange(c), (c, c))
        lo = np.maximum.accumulate(np.where(new_block, pos, 0), axis=1)  # (C, C) start of the block
        ends = np.ones((c, c), dtype=bool)
        ends[:, :-1] = new_block[:, 1:]
        hi = np.minimum.accumulate(np.where(ends, pos + 1, c + 1)[:, ::-1], axis=1)[
            :, ::-1
        ]  # (C, C) block end
        self._order = order.tolist()  # Python lists: walking them per question beats numpy scalar indexing
        self._lo, self._hi = lo, hi

    def __call__(self, anchor: int, exclude: Collection[int], k: int, draw: UniformStream) -> list[int]:
        """The ``k`` nearest classes to ``anchor`` outside ``exclude`` (``anchor`` is always excluded)."""
        taken = set(exclude)
        taken.add(anchor)
        if self.num_classes - len(taken) < k:
            raise ValueError(
                f"need {k} distractors but only {self.num_classes - len(taken)} classes are left"
            )
        order = self._order[anchor]
        valid = cut = 0
        for pos, cls in enumerate(order):
            if cls not in taken:
                valid += 1
                if valid == k:
                    cut = pos  # position of the k-th allowed class
                    break
        lo, hi = int(self._lo[anchor, cut]), int(self._hi[anchor, cut])
        sure = [cls for cls in order[:lo] if cls not in taken]  # strictly nearer than the cut-off
        tied = [cls for cls in order[lo:hi] if cls not in taken]  # at the cut-off distance
        need = k - len(sure)
        return sure + (tied if len(tied) == need else draw.sample(tied, need))
