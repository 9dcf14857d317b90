"""The procedural world: deterministic, index-addressable samples of every domain and split.

Sample ``i`` of (domain, split) under ``seed`` is drawn with its own generator
``numpy.random.default_rng([seed, domain_id, split_id, i])``, so it is the same image and caption whatever
the access order, worker count or dataset size, and train and eval samples come from disjoint streams.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.world.captions import caption, questions
from vlmrobust.data.world.classes import CLASS_NAMES
from vlmrobust.data.world.domains import get_domain, render
from vlmrobust.data.world.scenes import Scene, generate_scene

#: Stable split ids mixed into every per-sample seed (never renumber).
SPLITS: dict[str, int] = {"train": 0, "eval": 1}

#: Stable id of the two-object scene stream (disjoint from every domain id).
SCENES_ID = 100


@dataclass(frozen=True)
class WorldSample:
    """One single-object sample.

    Attributes:
        image: RGB PIL image, ``image_size`` x ``image_size``.
        label: class index into ``CLASS_NAMES``.
        caption: a caption naming the class (and, for most templates, its attributes).
        attrs: what was drawn (shape, colour, background, size, position ... depending on the domain).
    """

    image: Image.Image
    label: int
    caption: str
    attrs: dict[str, Any]

    def questions(self) -> list[tuple[str, str]]:
        """VQA-style (question, answer) pairs about this sample."""
        return questions(self.attrs)


class ProceduralWorld:
    """Index-addressable generator of world images, captions and two-object scenes.

    Args:
        seed: world seed; every sample is a pure function of (seed, domain, split, index).
        image_size: side of the square images in pixels (32 to 64 are the intended sizes).
    """

    def __init__(self, seed: int = 0, image_size: int = 32) -> None:
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"world seed must be a non-negative int, got {seed!r}")
        if not 16 <= image_size <= 512:
            raise ValueError(f"world image_size must be in [16, 512] pixels, got {image_size}")
        self.seed = int(seed)
        self.image_size = int(image_size)

    def __repr__(self) -> str:
        return f"ProceduralWorld(seed={self.seed}, image_size={self.image_size})"

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in label order."""
        return CLASS_NAMES

    def rng(self, stream_id: int, split: str, index: int) -> np.random.Generator:
        """The generator of sample ``index`` of stream ``stream_id`` (a domain id or ``SCENES_ID``) in ``split``."""
        if split not in SPLITS:
            raise KeyError(f"Unknown world split {split!r}. {did_you_mean(split, SPLITS, 'splits')}")
        if index < 0:
            raise IndexError(f"world sample index must be >= 0, got {index}")
        return np.random.default_rng([self.seed, stream_id, SPLITS[split], int(index)])

    def label(self, index: int) -> int:
        """Class of sample ``index`` (classes cycle, so any prefix of a split is balanced to within one)."""
        return int(index) % len(CLASS_NAMES)

    def sample(self, domain: str, split: str, index: int) -> WorldSample:
        """Sample ``index`` of ``domain`` in ``split``: image, label, caption and attributes."""
        rng = self.rng(get_domain(domain).domain_id, split, index)
        label = self.label(index)
        image, attrs = render(domain, label, rng, self.image_size)
        return WorldSample(image, label, caption(domain, attrs, rng), attrs)

    def scene(self, split: str, index: int) -> Scene:
        """Two-object scene ``index`` of ``split``."""
        return generate_scene(self.rng(SCENES_ID, split, index), self.image_size)
