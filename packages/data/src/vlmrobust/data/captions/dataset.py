"""Torch dataset of image-caption training pairs over Karpathy split records.

One item per (image, caption) pair, the usual choice for CLIP fine-tuning on COCO / Flickr30k (as in
open_clip's CSV datasets built from the Karpathy files): an epoch sees every caption once and every image
once per caption (5-7 times), and a shuffled batch may hold two captions of one image (``image_id`` tells
them apart for losses that care). Items are ``{"image", "caption", "index", "image_id"}``; batch them with
``vlmrobust.data.world.datasets.collate_captions`` (``image`` stacked, ``index``/``image_id`` long tensors,
``caption`` a list of strings).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from vlmrobust.data.captions.karpathy import CaptionRecord
from vlmrobust.data.imagenet.images import load_image

ImageTransform = Callable[[Image.Image], torch.Tensor]


class CaptionPairDataset(Dataset):
    """Every (image, caption) pair of ``records``, image-major in record order.

    Pair ``i`` is caption ``j`` of record ``r`` where the pairs of record 0 come first, then those of
    record 1, and so on. Images are decoded on access (an undecodable file raises ``ImageDecodeError``
    naming it) and go through ``transform``, read at every access so a model's preprocessing can replace
    it after the dataset is built; ``None`` yields the RGB PIL image.

    Args:
        records: the images and their captions (e.g. ``read_karpathy(...).records``).
        transform: PIL image -> model input; ``None`` yields PIL images.
        name: prefix of ``sample_id`` (e.g. ``"coco"``).
    """

    def __init__(
        self, records: Sequence[CaptionRecord], transform: ImageTransform | None, name: str = "captions"
    ) -> None:
        self.records = tuple(records)
        self.transform = transform
        self.name = name
        counts = np.fromiter((len(r.captions) for r in self.records), dtype=np.int64, count=len(self.records))
        self._starts = np.concatenate([[0], np.cumsum(counts)])  # [R + 1] first pair of each record

    def __len__(self) -> int:
        return int(self._starts[-1])

    def locate(self, i: int) -> tuple[int, int]:
        """``(record index, caption index)`` of pair ``i`` (negative ``i`` counts from the end)."""
        n = len(self)
        j = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= j < n:
            raise IndexError(f"pair index {i} out of range for {n} image-caption pairs")
        r = int(np.searchsorted(self._starts, j, side="right")) - 1
        return r, j - int(self._starts[r])

    def sample_id(self, i: int) -> str:
        """Stable id of pair ``i``: ``"<name>/<sentid>"``."""
        r, c = self.locate(i)
        return f"{self.name}/{self.records[r].sentence_ids[c]}"

    def __getitem__(self, i: int) -> dict[str, Any]:
        r, c = self.locate(i)
        record = self.records[r]
        image = load_image(record.image_path)  # RGB, fully decoded
        return {
            "image": image if self.transform is None else self.transform(image),
            "caption": record.captions[c],
            "index": int(self._starts[r]) + c,  # == i, made non-negative
            "image_id": record.image_id,
        }
