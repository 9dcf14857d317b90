"""Rasterisation and compositing: anti-aliased masks with PIL, colour and textures with numpy.

A canvas is a float32 array ``[H, W, 3]`` in [0, 1]; masks are float32 ``[H, W]`` coverage in [0, 1],
drawn at ``SUPERSAMPLE`` times the resolution and box-filtered down.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from vlmrobust.data.world.geometry import Ring

SUPERSAMPLE = 4  # masks are drawn at 4x resolution then box-reduced (anti-aliasing)

Colour = tuple[float, float, float]


def _draw_canvas(size: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("L", (size * SUPERSAMPLE, size * SUPERSAMPLE), 0)
    return img, ImageDraw.Draw(img)


def _finish(img: Image.Image) -> np.ndarray:
    return np.asarray(img.reduce(SUPERSAMPLE), dtype=np.float32) / 255.0


def _xy(points: np.ndarray) -> list[tuple[float, float]]:
    return [tuple(p) for p in (points * SUPERSAMPLE).tolist()]


def fill_mask(rings: list[Ring], size: int) -> np.ndarray:
    """Coverage ``[size, size]`` of the filled shape (holes cut out), rings given in pixels."""
    img, draw = _draw_canvas(size)
    for pts, hole in sorted(rings, key=lambda r: r[1]):  # outer rings first, then holes
        draw.polygon(_xy(pts), fill=0 if hole else 255)
    return _finish(img)


def outline_mask(rings: list[Ring], size: int, width: float) -> np.ndarray:
    """Coverage ``[size, size]`` of the shape's outline (every ring), stroke ``width`` in pixels."""
    img, draw = _draw_canvas(size)
    stroke = max(1, round(width * SUPERSAMPLE))
    for pts, _ in rings:
        xy = _xy(pts)
        draw.line([*xy, xy[0], xy[1]], fill=255, width=stroke, joint="curve")
    return _finish(img)


def solid(size: int, colour: Colour) -> np.ndarray:
    """Canvas ``[size, size, 3]`` of one colour."""
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = colour
    return canvas


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    return xx, yy


def stripes(size: int, a: Colour, b: Colour, period: float, angle_deg: float) -> np.ndarray:
    """Two-colour stripes of ``period`` pixels at ``angle_deg``."""
    xx, yy = _grid(size)
    t = np.deg2rad(angle_deg)
    u = (xx * np.cos(t) + yy * np.sin(t)) / period
    return _pick(u % 1.0 < 0.5, a, b)


def dots(
    size: int, a: Colour, b: Colour, period: float, radius: float, phase: tuple[float, float]
) -> np.ndarray:
    """Dots of colour ``b`` (``radius`` pixels) on a square lattice of ``period`` pixels over colour ``a``."""
    xx, yy = _grid(size)
    dx = (xx + phase[0]) % period - period / 2
    dy = (yy + phase[1]) % period - period / 2
    return _pick(dx**2 + dy**2 > radius**2, a, b)


def checker(size: int, a: Colour, b: Colour, period: float) -> np.ndarray:
    """Checkerboard with squares of ``period`` pixels."""
    xx, yy = _grid(size)
    return _pick(((xx // period) + (yy // period)) % 2 == 0, a, b)


def gradient(size: int, a: Colour, b: Colour, angle_deg: float) -> np.ndarray:
    """Linear gradient from ``a`` to ``b`` across the canvas along ``angle_deg``."""
    xx, yy = _grid(size)
    t = np.deg2rad(angle_deg)
    u = (xx - size / 2) * np.cos(t) + (yy - size / 2) * np.sin(t)
    w = np.clip(u / size + 0.5, 0, 1)[..., None]  # [H, W, 1]
    return (1 - w) * np.asarray(a, dtype=np.float32) + w * np.asarray(b, dtype=np.float32)


def _pick(cond: np.ndarray, a: Colour, b: Colour) -> np.ndarray:
    return np.where(cond[..., None], np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32))


def paint(canvas: np.ndarray, mask: np.ndarray, fill: Colour | np.ndarray) -> None:
    """Alpha-composite ``fill`` (a colour or a ``[H, W, 3]`` texture) onto ``canvas`` in place, through ``mask``."""
    fill = np.asarray(fill, dtype=np.float32)
    canvas += mask[..., None] * (fill - canvas)


def add_noise(canvas: np.ndarray, sigma: float, rng: np.random.Generator, grey: bool = False) -> None:
    """Add Gaussian pixel noise in place (the same in all channels when ``grey``); :func:`to_pil` clips."""
    shape = canvas.shape[:2] + ((1,) if grey else (3,))
    canvas += rng.standard_normal(size=shape, dtype=np.float32) * np.float32(sigma)


def jitter(colour: Colour, amount: float, rng: np.random.Generator) -> Colour:
    """``colour`` with each channel moved by up to ``amount``, clipped to [0, 1]."""
    d = rng.uniform(-amount, amount, size=3).tolist()
    r, g, b = (min(1.0, max(0.0, c + e)) for c, e in zip(colour, d, strict=True))
    return (r, g, b)


def to_pil(canvas: np.ndarray) -> Image.Image:
    """RGB PIL image of a canvas (clipped to [0, 1], rounded to uint8)."""
    scaled = canvas * np.float32(255.0) + np.float32(0.5)
    np.clip(scaled, 0.0, 255.0, out=scaled)
    return Image.fromarray(scaled.astype(np.uint8))
