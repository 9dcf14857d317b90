"""Outlines of the world's shapes as polygons, and the placement transform.

Every shape is a list of rings ``(points, is_hole)``: ``points`` is a float array ``[N, 2]`` of ``(x, y)``
in unit coordinates (y points down, as in images), normalised so that the bounding box is centred on the
origin and its larger half-side is 1. A few shapes draw small per-sample variations (aspect ratio, star
depth) from the generator so that classes are not single templates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

Ring = tuple[np.ndarray, bool]  # (points [N, 2], is_hole)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int) -> np.ndarray:
    """``n`` points on an elliptical arc from angle ``start`` to ``stop`` (radians, y down)."""
    t = np.linspace(start, stop, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)  # [n, 2]


@functools.cache
def _regular(k: int, phase_deg: float) -> np.ndarray:
    """Vertices of a regular ``k``-gon on the unit circle (cached; treat as read-only)."""
    t = np.deg2rad(phase_deg) + 2 * np.pi * np.arange(k) / k
    pts = np.stack([np.cos(t), np.sin(t)], axis=1)  # [k, 2]
    pts.flags.writeable = False
    return pts


_DISC = _regular(48, 0.0)  # unit circle as a 48-gon


def _circle(rng: np.random.Generator) -> list[Ring]:
    return [(_DISC, False)]


def _ellipse(rng: np.random.Generator) -> list[Ring]:
    return [(_DISC * (1.0, rng.uniform(0.45, 0.62)), False)]


def _ring(rng: np.random.Generator) -> list[Ring]:
    inner = rng.uniform(0.5, 0.62)
    return [(_DISC, False), (_DISC * inner, True)]


def _semicircle(rng: np.random.Generator) -> list[Ring]:
    return [(_HALF_DISC, False)]


def _crescent(rng: np.random.Generator) -> list[Ring]:
    # Unit disc minus a disc of radius r centred at (d, 0): a moon opening to the right.
    d, r = rng.uniform(0.40, 0.50), 0.85
    x = (1 - r**2 + d**2) / (2 * d)
    y = np.sqrt(1 - x**2)
    a_out, a_in = np.arctan2(y, x), np.arctan2(y, x - d)
    outer = _arc(0, 0, 1, 1, a_out, 2 * np.pi - a_out, 36)
    inner = _arc(d, 0, r, r, 2 * np.pi - a_in, a_in, 30)[1:-1]
    return [(np.concatenate([outer, inner]), False)]


def _poly(*xy: float) -> list[Ring]:
    return [(np.asarray(xy, dtype=np.float64).reshape(-1, 2), False)]


def _triangle(rng: np.random.Generator) -> list[Ring]:
    return [(_regular(3, -90), False)]  # apex up


def _square(rng: np.random.Generator) -> list[Ring]:
    return _poly(-1, -1, 1, -1, 1, 1, -1, 1)


def _rectangle(rng: np.random.Generator) -> list[Ring]:
    h = rng.uniform(0.45, 0.62)
    return _poly(-1, -h, 1, -h, 1, h, -1, h)


def _diamond(rng: np.random.Generator) -> list[Ring]:
    w = rng.uniform(0.50, 0.62)  # a rhombus taller than wide, so it never looks like a rotated square
    return _poly(0, -1, w, 0, 0, 1, -w, 0)


def _pentagon(rng: np.random.Generator) -> list[Ring]:
    return [(_regular(5, -90), False)]


def _hexagon(rng: np.random.Generator) -> list[Ring]:
    return [(_regular(6, 0), False)]


def _trapezoid(rng: np.random.Generator) -> list[Ring]:
    top, h = rng.uniform(0.40, 0.60), rng.uniform(0.55, 0.70)
    return _poly(-top, -h, top, -h, 1, h, -1, h)


def _parallelogram(rng: np.random.Generator) -> list[Ring]:
    s, h = rng.uniform(0.40, 0.55), rng.uniform(0.50, 0.65)
    return _poly(-1 + s, -h, 1, -h, 1 - s, h, -1, h)


def _star(rng: np.random.Generator) -> list[Ring]:
    pts = _regular(10, -90) * np.where(np.arange(10) % 2 == 0, 1.0, rng.uniform(0.38, 0.48))[:, None]
    return [(pts, False)]


def _cross(rng: np.random.Generator) -> list[Ring]:
    # Latin cross: the crossbar sits above the middle, so it stays distinct from "plus" under rotation.
    w, c, a = rng.uniform(0.17, 0.22), -0.4, 0.62
    return _poly(
        -w,
        -1,
        w,
        -1,
        w,
        c - w,
        a,
        c - w,
        a,
        c + w,
        w,
        c + w,
        w,
        1,
        -w,
        1,
        -w,
        c + w,
        -a,
        c + w,
        -a,
        c - w,
        -w,
        c - w,
    )


def _plus(rng: np.random.Generator) -> list[Ring]:
    w = rng.uniform(0.26, 0.34)
    return _poly(-w, -1, w, -1, w, -w, 1, -w, 1, w, w, w, w, 1, -w, 1, -w, w, -1, w, -1, -w, -w, -w)


def _heart_outline() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 61)[:-1]
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    return np.stack([x, y], axis=1)  # [60, 2]


_HEART = _heart_outline()
_HALF_DISC = _arc(0, 0, 1, 1, np.pi, 2 * np.pi, 33)  # dome up, flat side down


def _heart(rng: np.random.Generator) -> list[Ring]:
    return [(_HEART, False)]


def _arrow(rng: np.random.Generator) -> list[Ring]:
    shaft, head, neck = rng.uniform(0.18, 0.24), rng.uniform(0.55, 0.65), rng.uniform(0.05, 0.25)
    return _poly(-1, -shaft, neck, -shaft, neck, -head, 1, 0, neck, head, neck, shaft, -1, shaft)


SHAPES: dict[str, Callable[[np.random.Generator], list[Ring]]] = {
    "circle": _circle,
    "ellipse": _ellipse,
    "ring": _ring,
    "semicircle": _semicircle,
    "crescent": _crescent,
    "triangle": _triangle,
    "square": _square,
    "rectangle": _rectangle,
    "diamond": _diamond,
    "pentagon": _pentagon,
    "hexagon": _hexagon,
    "trapezoid": _trapezoid,
    "parallelogram": _parallelogram,
    "star": _star,
    "cross": _cross,
    "plus": _plus,
    "heart": _heart,
    "arrow": _arrow,
}


def shape_rings(name: str, rng: np.random.Generator) -> list[Ring]:
    """Unit-normalised rings of shape ``name`` (bounding box centred, larger half-side 1)."""
    rings = SHAPES[name](rng)
    outer = rings[0][0] if len(rings) == 1 else np.concatenate([p for p, _ in rings])
    lo, hi = outer.min(axis=0), outer.max(axis=0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2
    return [((p - centre) / half, hole) for p, hole in rings]


def place(rings: list[Ring], cx: float, cy: float, radius: float, angle_deg: float = 0.0) -> list[Ring]:
    """Scale unit rings by ``radius`` pixels, rotate by ``angle_deg`` (clockwise on screen), move to (cx, cy)."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])  # row-vector form: p @ rot
    return [(p @ rot * radius + (cx, cy), hole) for p, hole in rings]


def wobble(rings: list[Ring], amplitude: float, rng: np.random.Generator) -> list[Ring]:
    """Perturb ring vertices with a smooth, low-frequency displacement (a hand-drawn look).

    ``amplitude`` is in the rings' own units; the displacement is a random sum of two sinusoids along the
    ring so that dense outlines (circles) stay smooth while sparse ones (squares) get slightly moved corners.
    """
    out = []
    for p, hole in rings:
        t = np.arange(len(p)) / len(p)
        freq = rng.integers(1, 4, size=2)
        phase = rng.uniform(0, 2 * np.pi, size=(2, 2))
        d = np.stack(
            [
                np.sin(2 * np.pi * freq[k] * t + phase[k, 0]) + 0.5 * np.sin(2 * np.pi * t + phase[k, 1])
                for k in range(2)
            ],
            axis=1,
        )  # [N, 2]
        out.append((p + amplitude * d / 1.5, hole))
    return out
