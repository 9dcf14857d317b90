"""The 15 ImageNet-C corruptions at 5 severities, deterministic per sample (``imagecorruptions`` underneath).

``corrupt(image, name, severity, seed, sample_id)`` is a pure function of its arguments: the corruption's
random draws come from a :class:`numpy.random.RandomState` seeded with the SHA-256 of
``(name, seed, sample_id)`` (never Python's salted ``hash``), so the output is bitwise the same whatever ran
before, in any process or DataLoader worker. Numpy's global RNG is neither read nor advanced, and the call is
thread-safe: each call has its own RNG, installed for the calling thread only (:mod:`.library`).

The severity is not part of the seed: the five severities of a sample share their random draws (the same
noise field, frost crop, blur angle ...), so a severity curve varies the strength alone.

Small images: imagecorruptions refuses sides under 32 px. A smaller image is upscaled (bicubic) so that its
short side is 32 px, corrupted, and scaled back (box filter) to its own size. Every corruption was checked to
keep the size of images from 32 px up (frost crops its texture from a bundled photo, rescaled when the image
is larger). The strengths are in pixels as calibrated for ImageNet's 224 px (a defocus radius of 10 px at
severity 5), so they are relatively stronger on smaller images.
"""

from __future__ import annotations

import hashlib
import math
from typing import Literal, get_args

import numpy as np
from PIL import Image

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.corruptions.library import imagecorruptions, seeded

CorruptionName = Literal[
    "gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
]  # fmt: skip
#: The 15 ImageNet-C corruptions, in the benchmark's order (noise, blur, weather, digital).
CORRUPTIONS: tuple[CorruptionName, ...] = get_args(CorruptionName)
#: Valid severities.
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
#: Smallest side imagecorruptions accepts; smaller images are resized around the call.
MIN_SIDE = 32
#: Version of the seed derivation (part of every seed: changing it changes every output).
_SEED_VERSION = "vlmrobust.corruptions/1"


def check_corruption(name: str, severity: int) -> None:
    """Raise ``ValueError`` for an unknown corruption name (with did-you-mean) or severity."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}. {did_you_mean(name, CORRUPTIONS, 'corruptions')}")
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise ValueError(f"corruption severity must be one of 1..5, got {severity!r} (for {name!r})")


def corruption_rng(name: str, seed: int, sample_id: str) -> np.random.RandomState:
    """The RNG of one sample's corruption: MT19937 seeded with the 256-bit SHA-256 of the key."""
    key = f"{_SEED_VERSION}\0{name}\0{int(seed)}\0{sample_id}".encode()
    words = np.frombuffer(hashlib.sha256(key).digest(), dtype="<u4")  # [8] uint32
    return np.random.RandomState(words)


def corrupt(image: Image.Image, name: str, severity: int, seed: int, sample_id: str) -> Image.Image:
    """Apply ImageNet-C corruption ``name`` at ``severity`` to ``image``, deterministically per sample.

    Args:
        image: any PIL image (converted to RGB).
        name: one of :data:`CORRUPTIONS`.
        severity: 1 (mildest) to 5.
        seed: seed of the corrupted set (different seeds give independent draws).
        sample_id: the sample's stable id (``dataset.sample_id(i)``).

    Returns:
        An RGB image of the same size as ``image``.

    Raises:
        ValueError: unknown ``name`` or ``severity``.
        MissingDependencyError: ``imagecorruptions`` is not installed
            (``pip install 'vlmrobust-data[corruptions]'``).
    """
    check_corruption(name, severity)
    library = imagecorruptions()
    rgb = image.convert("RGB")
    w, h = rgb.size
    scale = MIN_SIDE / min(w, h)
    if scale > 1:
        rgb = rgb.resize((math.ceil(w * scale), math.ceil(h * scale)), Image.Resampling.BICUBIC)
    array = np.asarray(rgb, dtype=np.uint8)  # [H, W, 3]
    with seeded(corruption_rng(name, seed, sample_id)):
        out = library.corrupt(array, severity=severity, corruption_name=name)  # [H, W, 3] uint8
    result = Image.fromarray(np.ascontiguousarray(out, dtype=np.uint8))
    return result.resize((w, h), Image.Resampling.BOX) if scale > 1 else result
