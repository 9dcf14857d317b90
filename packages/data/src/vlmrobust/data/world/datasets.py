"""Torch datasets over the procedural world (captioned training data, labelled eval sets, scenes).

Images go through ``dataset.transform`` (read at every access, so it can be swapped after the dataset was
built, e.g. for a model's preprocessing); ``None`` yields the PIL image (as for ImageNet sets, for VLMs that
take PIL images); the default :func:`to_tensor` gives float tensors. With ``cache=True`` a dataset
keeps the generated (pre-transform) samples in memory, about 3 KB per 32 px image, so later epochs skip
generation; samples are deterministic, so caching never changes what is served.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.world.domains import get_domain
from vlmrobust.data.world.generator import SPLITS, ProceduralWorld, WorldSample
from vlmrobust.data.world.scenes import Scene

ImageTransform = Callable[[Image.Image], torch.Tensor]


def to_tensor(image: Image.Image) -> torch.Tensor:
    """PIL image -> float tensor ``[3, H, W]`` in [0, 1]."""
    arr = np.asarray(image.convert("RGB"), dtype=np.uint8)  # [H, W, 3]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)  # [3, H, W]


class _WorldDataset(Dataset):
    """Common indexing, validation and transform handling."""

    stream = ""  # name used in sample ids

    def __init__(
        self, world: ProceduralWorld, split: str, size: int, transform: ImageTransform | None, cache: bool
    ) -> None:
        if split not in SPLITS:
            raise KeyError(f"Unknown world split {split!r}. {did_you_mean(split, SPLITS, 'splits')}")
        if size < 1:
            raise ValueError(f"world dataset size must be >= 1, got {size}")
        self.world, self.split, self.size = world, split, int(size)
        self.transform = transform
        self._cache: dict[int, Any] | None = {} if cache else None

    def __len__(self) -> int:
        return self.size

    def _index(self, i: int) -> int:
        j = int(i) + self.size if int(i) < 0 else int(i)
        if not 0 <= j < self.size:
            raise IndexError(f"index {i} out of range for {self.stream}/{self.split} of size {self.size}")
        return j

    def sample_id(self, i: int) -> str:
        """Stable id of sample ``i``: ``"world/<domain>/<split>/<i>"``."""
        return f"world/{self.stream}/{self.split}/{self._index(i)}"

    def _image(self, image: Image.Image) -> Any:
        return image if self.transform is None else self.transform(image)

    def _generate(self, i: int) -> Any:
        raise NotImplementedError

    def _get(self, i: int) -> Any:
        """The generated sample ``i`` (from the cache when enabled)."""
        if self._cache is None:
            return self._generate(i)
        if i not in self._cache:
            self._cache[i] = self._generate(i)
        return self._cache[i]


class _DomainDataset(_WorldDataset):
    """Single-object samples of one domain (the stream is the domain's name)."""

    def __init__(
        self,
        world: ProceduralWorld,
        domain: str,
        split: str,
        size: int,
        transform: ImageTransform | None,
        cache: bool,
    ) -> None:
        super().__init__(world, split, size, transform, cache)
        self.domain = self.stream = get_domain(domain).name

    def _generate(self, i: int) -> WorldSample:
        return self.world.sample(self.domain, self.split, i)


class CaptionDataset(_DomainDataset):
    """Image-caption pairs of one domain: items ``{"image", "caption", "label", "index"}``.

    Args:
        world: the world to draw from.
        domain: domain name (``"id"`` for training).
        split: ``"train"`` or ``"eval"``.
        size: number of samples (sample ``i`` does not depend on ``size``).
        transform: PIL image -> model input (default :func:`to_tensor`); ``None`` yields the PIL image.
        cache: keep generated samples in memory.
    """

    def __init__(
        self,
        world: ProceduralWorld,
        domain: str = "id",
        split: str = "train",
        size: int = 2000,
        transform: ImageTransform | None = to_tensor,
        cache: bool = False,
    ) -> None:
        super().__init__(world, domain, split, size, transform, cache)

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = self._index(i)
        s = self._get(i)
        return {"image": self._image(s.image), "caption": s.caption, "label": s.label, "index": i}


class LabelledDataset(_DomainDataset):
    """Labelled images of one domain: items ``{"image", "label", "index"}``.

    Args:
        world: the world to draw from.
        domain: domain name (``"id"`` or a shift).
        split: ``"train"`` or ``"eval"``.
        size: number of samples (sample ``i`` does not depend on ``size``).
        transform: PIL image -> model input (default :func:`to_tensor`); ``None`` yields the PIL image.
        cache: keep generated samples in memory.
    """

    def __init__(
        self,
        world: ProceduralWorld,
        domain: str,
        split: str = "eval",
        size: int = 500,
        transform: ImageTransform | None = to_tensor,
        cache: bool = False,
    ) -> None:
        super().__init__(world, domain, split, size, transform, cache)

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in label order."""
        return self.world.class_names

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = self._index(i)
        s = self._get(i)
        return {"image": self._image(s.image), "label": s.label, "index": i}


class SceneDataset(_WorldDataset):
    """Two-object scenes with relation/attribute captions and their hard negatives and positives.

    Items: ``image``, ``caption`` (relation caption), ``options`` (What'sUp-style, gold first),
    ``relation_negative``, ``swapped_objects``, ``relation_positive``, ``attribute_caption``,
    ``attribute_negative``, ``attribute_positive``, ``relation`` and ``index``. Batch with
    :func:`collate_scenes`.

    Args:
        world: the world to draw from.
        split: ``"train"`` or ``"eval"``.
        size: number of scenes.
        transform: PIL image -> model input (default :func:`to_tensor`); ``None`` yields the PIL image.
        cache: keep generated scenes in memory.
    """

    stream = "scenes"

    def __init__(
        self,
        world: ProceduralWorld,
        split: str = "eval",
        size: int = 500,
        transform: ImageTransform | None = to_tensor,
        cache: bool = False,
    ) -> None:
        super().__init__(world, split, size, transform, cache)

    def _generate(self, i: int) -> Scene:
        return self.world.scene(self.split, i)

    def __getitem__(self, i: int) -> dict[str, Any]:
        i = self._index(i)
        sc = self._get(i)
        return {
            "image": self._image(sc.image),
            "caption": sc.relation_caption(),
            "options": sc.relation_options,
            "relation_negative": sc.relation_negative,
            "swapped_objects": sc.swapped_objects,
            "relation_positive": sc.relation_positive,
            "attribute_caption": sc.attribute_caption,
            "attribute_negative": sc.attribute_negative,
            "attribute_positive": sc.attribute_positive,
            "relation": sc.relation,
            "index": i,
        }


def _collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, first in batch[0].items():
        values = [b[key] for b in batch]
        if isinstance(first, torch.Tensor):
            out[key] = torch.stack(values)  # [B, *item]
        elif isinstance(first, int):
            out[key] = torch.tensor(values, dtype=torch.long)  # [B]
        else:
            out[key] = values  # strings and lists of strings stay Python lists (per sample)
    return out


def collate_captions(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch caption items: ``image`` [B, 3, H, W], ``label``/``index`` [B] long, ``caption`` list[str]."""
    return _collate(batch)


def collate_scenes(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Batch scene items: images stacked, ``index`` [B] long, texts as lists (``options``: list of lists)."""
    return _collate(batch)
