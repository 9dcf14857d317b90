"""Domains of the procedural world: the ID domain and shifts modelled on ImageNet's natural shifts.

Each domain draws one labelled image from a generator: ``draw(label, rng, size) -> (canvas, attrs)``, where
``attrs`` describes what was drawn (shape, colour, background, size and position words ...) for captions.
Every domain keeps the shape's identity recognisable; only nuisance factors change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.world import raster as R
from vlmrobust.data.world.classes import BACKGROUNDS, CLASS_NAMES, COLOURS, RENDITION_COLOURS
from vlmrobust.data.world.geometry import place, shape_rings, wobble

Attrs = dict[str, Any]
DrawFn = Callable[[int, np.random.Generator, int], tuple[np.ndarray, Attrs]]


@dataclass(frozen=True)
class Domain:
    """One image distribution of the world.

    Attributes:
        name: domain name (``"id"`` or a shift name).
        domain_id: stable integer mixed into every per-sample seed; never reused or renumbered.
        analogue: the ImageNet (or related) shift this domain models.
        draw: ``draw(label, rng, size) -> (canvas [size, size, 3] float32 in [0, 1], attrs)``.
    """

    name: str
    domain_id: int
    analogue: str
    draw: DrawFn


def _choice(rng: np.random.Generator, names: Any) -> str:
    names = list(names)
    return names[int(rng.integers(len(names)))]


def _size_word(radius_frac: float) -> str:
    return "small" if radius_frac < 0.29 else "large" if radius_frac > 0.36 else ""


def _position_word(dx: float, dy: float, size: int) -> str:
    tol = 0.06 * size
    vert = "top" if dy < -tol else "bottom" if dy > tol else ""
    horiz = "left" if dx < -tol else "right" if dx > tol else ""
    return f"{vert} {horiz}".strip() or "centre"


def _placement(
    rng: np.random.Generator, size: int, radius: tuple[float, float], offset: float, angle: float
) -> tuple[float, float, float, float]:
    """Centre (cx, cy), radius in pixels and rotation: radius ~ U(radius) * size, offsets ~ U(+-offset) * size."""
    r = rng.uniform(*radius) * size
    dx, dy = rng.uniform(-offset, offset, size=2) * size
    return size / 2 + dx, size / 2 + dy, r, rng.uniform(-angle, angle)


def _filled(
    label: int,
    rng: np.random.Generator,
    size: int,
    radius: tuple[float, float],
    offset: float,
    angle: float,
    noise: float,
) -> tuple[np.ndarray, Attrs]:
    """A filled shape in a named colour on a plain light background, with pixel noise."""
    shape = CLASS_NAMES[label]
    unit = shape_rings(shape, rng)
    colour, background = _choice(rng, COLOURS), _choice(rng, BACKGROUNDS)
    cx, cy, r, a = _placement(rng, size, radius, offset, angle)
    canvas = R.solid(size, R.jitter(BACKGROUNDS[background], 0.02, rng))
    R.paint(canvas, R.fill_mask(place(unit, cx, cy, r, a), size), R.jitter(COLOURS[colour], 0.06, rng))
    R.add_noise(canvas, noise, rng)
    attrs = {
        "shape": shape,
        "colour": colour,
        "background": background,
        "size": _size_word(r / size),
        "position": _position_word(cx - size / 2, cy - size / 2, size),
        "angle": a,
    }
    return canvas, attrs


def draw_id(label: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, Attrs]:
    """ID: filled shape, plain light background, mild noise, moderate size/position jitter."""
    return _filled(label, rng, size, radius=(0.25, 0.40), offset=0.10, angle=10.0, noise=0.025)


def draw_reproduction(label: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, Attrs]:
    """ImageNet-V2 analogue: the ID recipe, re-collected with a slightly smaller, less centred object."""
    return _filled(label, rng, size, radius=(0.22, 0.37), offset=0.13, angle=12.0, noise=0.025)


def draw_sketch(label: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, Attrs]:
    """ImageNet-Sketch analogue: a wobbly grey pencil outline on white paper, no colour, no fill."""
    shape = CLASS_NAMES[label]
    unit = shape_rings(shape, rng)
    cx, cy, r, a = _placement(rng, size, (0.25, 0.40), 0.10, 10.0)
    ink = rng.uniform(0.10, 0.45)
    width = rng.uniform(0.9, 1.6) * size / 32
    paper = rng.uniform(0.94, 1.0)
    canvas = R.solid(size, (paper, paper, paper))
    strokes = 2 if rng.random() < 0.4 else 1  # sketchers often go over a line twice
    for _ in range(strokes):
        rings = place(wobble(unit, 0.05, rng), cx, cy, r, a)
        R.paint(canvas, R.outline_mask(rings, size, width), (ink, ink, ink))
    R.add_noise(canvas, 0.01, rng, grey=True)
    attrs = {
        "shape": shape,
        "colour": None,
        "background": "white",
        "size": _size_word(r / size),
        "position": _position_word(cx - size / 2, cy - size / 2, size),
        "angle": a,
    }
    return canvas, attrs


_PATTERNS = ("striped", "dotted", "checkered", "shaded")


def draw_rendition(label: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, Attrs]:
    """ImageNet-R analogue: an artistic rendition with textured fill, another palette, cartoon outline."""
    shape = CLASS_NAMES[label]
    unit = shape_rings(shape, rng)
    names = list(RENDITION_COLOURS)
    first, second, third = (names[k] for k in rng.permutation(len(names))[:3])
    a_col, b_col = RENDITION_COLOURS[first], RENDITION_COLOURS[second]
    pattern = _choice(rng, _PATTERNS)
    period = rng.uniform(3.5, 6.0) * size / 32
    if pattern == "striped":
        texture = R.stripes(size, a_col, b_col, period, rng.uniform(0, 180))
    elif pattern == "dotted":
        texture = R.dots(size, a_col, b_col, period, period * 0.3, tuple(rng.uniform(0, period, 2)))
    elif pattern == "checkered":
        texture = R.checker(size, a_col, b_col, period)
    else:
        texture = R.gradient(size, a_col, b_col, rng.uniform(0, 360))
    tint = rng.uniform(0.55, 0.85)  # how far the background colour is washed towards white
    bg = tuple(tint + (1 - tint) * c for c in RENDITION_COLOURS[third])
    cx, cy, r, a = _placement(rng, size, (0.25, 0.40), 0.10, 10.0)
    rings = place(unit, cx, cy, r, a)
    canvas = R.solid(size, bg)
    R.paint(canvas, R.fill_mask(rings, size), texture)
    cartoon = bool(rng.random() < 0.6)
    if cartoon:
        R.paint(canvas, R.outline_mask(rings, size, rng.uniform(0.8, 1.3) * size / 32), (0.05, 0.05, 0.05))
    attrs = {
        "shape": shape,
        "colour": first,
        "colour2": second,
        "pattern": pattern,
        "background": f"pale {third}",
        "cartoon": cartoon,
        "size": _size_word(r / size),
        "position": _position_word(cx - size / 2, cy - size / 2, size),
        "angle": a,
    }
    return canvas, attrs


def draw_clutter(label: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, Attrs]:
    """ObjectNet / ImageNet-A analogue: uneven background, smaller distractor shapes behind and in front.

    The labelled shape is always the largest (distractors have at most 60 % of its radius); the ones drawn
    after it (at most 45 % of its radius) sit on its border and occlude part of it.
    """
    shape = CLASS_NAMES[label]
    unit = shape_rings(shape, rng)
    colour = _choice(rng, COLOURS)
    bg_a, bg_b = (R.jitter(BACKGROUNDS[_choice(rng, BACKGROUNDS)], 0.04, rng) for _ in range(2))
    canvas = R.gradient(size, bg_a, bg_b, rng.uniform(0, 360))
    cx, cy, r, a = _placement(rng, size, (0.24, 0.36), 0.14, 15.0)
    n_behind, n_front = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    others = [c for c in COLOURS if c != colour]
    distractors = []
    for k in range(n_behind + n_front):
        d_shape = CLASS_NAMES[(label + 1 + int(rng.integers(len(CLASS_NAMES) - 1))) % len(CLASS_NAMES)]
        if k < n_behind:  # anywhere in the picture, behind the object
            d_r = rng.uniform(0.35, 0.6) * r
            dx, dy = rng.uniform(d_r * 0.5, size - d_r * 0.5, size=2)
        else:  # on the object's border, in front of it
            d_r, phi = rng.uniform(0.3, 0.45) * r, rng.uniform(0, 2 * np.pi)
            dx, dy = cx + r * np.cos(phi), cy + r * np.sin(phi)
        rings = place(shape_rings(d_shape, rng), dx, dy, d_r, rng.uniform(0, 360))
        distractors.append((k < n_behind, rings, R.jitter(COLOURS[_choice(rng, others)], 0.06, rng), d_shape))
    for behind, rings, col, _ in distractors:
        if behind:
            R.paint(canvas, R.fill_mask(rings, size), col)
    R.paint(canvas, R.fill_mask(place(unit, cx, cy, r, a), size), R.jitter(COLOURS[colour], 0.06, rng))
    for behind, rings, col, _ in distractors:
        if not behind:
            R.paint(canvas, R.fill_mask(rings, size), col)
    R.add_noise(canvas, 0.035, rng)
    attrs = {
        "shape": shape,
        "colour": colour,
        "background": None,
        "distractors": [d for _, _, _, d in distractors],
        "size": _size_word(r / size),
        "position": _position_word(cx - size / 2, cy - size / 2, size),
        "angle": a,
    }
    return canvas, attrs


def draw_pose(label: int, rng: np.random.Generator, size: int) -> tuple[np.ndarray, Attrs]:
    """ObjectNet pose analogue: any rotation, a wide range of scales, off-centre and possibly cut by the frame."""
    shape = CLASS_NAMES[label]
    unit = shape_rings(shape, rng)
    colour, background = _choice(rng, COLOURS), _choice(rng, BACKGROUNDS)
    r = rng.uniform(0.15, 0.46) * size
    margin = max(0.0, size / 2 - 0.8 * r)  # at most ~20 % of the radius leaves the frame
    cx, cy = size / 2 + rng.uniform(-margin, margin, size=2)
    a = rng.uniform(0, 360)
    canvas = R.solid(size, R.jitter(BACKGROUNDS[background], 0.02, rng))
    R.paint(canvas, R.fill_mask(place(unit, cx, cy, r, a), size), R.jitter(COLOURS[colour], 0.06, rng))
    R.add_noise(canvas, 0.025, rng)
    attrs = {
        "shape": shape,
        "colour": colour,
        "background": background,
        "size": _size_word(r / size),
        "position": _position_word(cx - size / 2, cy - size / 2, size),
        "angle": a,
    }
    return canvas, attrs


DOMAINS: dict[str, Domain] = {
    d.name: d
    for d in (
        Domain("id", 0, "ImageNet (in-distribution)", draw_id),
        Domain("reproduction", 1, "ImageNet-V2", draw_reproduction),
        Domain("sketch", 2, "ImageNet-Sketch", draw_sketch),
        Domain("rendition", 3, "ImageNet-R", draw_rendition),
        Domain("clutter", 4, "ObjectNet / ImageNet-A (clutter, occlusion)", draw_clutter),
        Domain("pose", 5, "ObjectNet (rotation, scale, viewpoint)", draw_pose),
    )
}

#: Every shift, in the canonical order used by the DataModule.
SHIFTS: tuple[str, ...] = tuple(n for n in DOMAINS if n != "id")


def get_domain(name: str) -> Domain:
    """Domain ``name``; unknown names fail with a did-you-mean listing the valid domains."""
    try:
        return DOMAINS[name]
    except KeyError:
        raise KeyError(f"Unknown world domain {name!r}. {did_you_mean(name, DOMAINS, 'domains')}") from None


def render(
    domain: str, label: int, rng: np.random.Generator, image_size: int = 32
) -> tuple[Image.Image, Attrs]:
    """Draw one image of class ``label`` from ``domain`` with generator ``rng``.

    Returns:
        The RGB PIL image (``image_size`` x ``image_size``) and the attributes of what was drawn.
    """
    canvas, attrs = get_domain(domain).draw(label, rng, image_size)
    return R.to_pil(canvas), attrs
