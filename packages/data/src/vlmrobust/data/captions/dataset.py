"""Torch dataset of image-caption training pairs over Karpathy split records.

One item per (image, caption) pair, the usual choice for CLIP fine-tuning on COCO / Flickr30k (as in
open_clip's CSV datasets built from the Karpathy files): an epoch sees every caption once and every image
once per caption (5-7 times), and a shuffled batch may hold two captions of one image (``image_id`` tells
them apart for losses that care). Items are ``{"image", "caption", "index", "image_id"}``; batch them with
``vlmrobust.data.world.datasets.collate_captions`` (``image`` stacked, ``index``/``image_id`` long tensors,
``caption`` a list of strings). With ``negatives`` (a ``vlmrobust.data.perturb.HardNegatives``) items also
carry the hard-negative captions ``negative_0 .. negative_{k-1}`` (lists of B strings once collated) and
``negative_fallback`` (``[k]`` bool, ``[B, k]`` batched: which came from a fallback), as NegCLIP needs.
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
from vlmrobust.data.perturb.hard_negatives import HardNegatives

ImageTransform = Callable[[Image.Image], torch.Tensor]


class CaptionPairDataset(Dataset):
    """Every (image, caption) pair of ``records``, image-major in record order.

    Pair ``i`` is caption ``j`` of record ``r`` where the pairs of record 0 come first, then those of
    record 1, and so on. Images are decoded on access (an undecodable file raises ``ImageDecodeError``
    naming it) and go through ``transform``, read at every access so a model's preprocessing can replace
    it after the dataset is built; ``None`` yields the RGB PIL image.

    With ``negatives``, pair ``i`` also gets ``negatives(caption, i, ...)``: one hard negative per kind under
    ``negative_j`` and the fallback flags under ``negative_fallback``, deterministic by (its seed, ``i``); the
    last fallback draws a caption of another record (never one of the same image).

    Args:
        records: the images and their captions (e.g. ``read_karpathy(...).records``).
        transform: PIL image -> model input; ``None`` yields PIL images.
        name: prefix of ``sample_id`` (e.g. ``"coco"``).
        negatives: hard-negative maker of the ``negative_j`` columns; ``None``: no such columns.
    """

    def __init__(
        self,
        records: Sequence[CaptionRecord],
        transform: ImageTransform | None,
        name: str = "captions",
        negatives: HardNegatives | None = None,
    ) -> None:
        self.records = tuple(records)
        self.transform = transform
        self.name = name
        self.negatives = negatives
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
        index = int(self._starts[r]) + c  # == i, made non-negative
        item = {
            "image": image if self.transform is None else self.transform(image),
            "caption": record.captions[c],
            "index": index,
            "image_id": record.image_id,
        }
        if self.negatives is not None:
            other = self._other_caption(r) if len(self.records) > 1 else None
            draw = self.negatives(record.captions[c], index, other)
            item.update(zip(self.negatives.columns, draw.negatives, strict=True))
            item["negative_fallback"] = torch.tensor(draw.fallback, dtype=torch.bool)  # [k]
        return item

    def _other_caption(self, r: int) -> Callable[[np.random.Generator], str]:
        """Draws a caption of a record other than ``r`` (uniform record, then uniform caption)."""

        def draw(rng: np.random.Generator) -> str:
            other = int(rng.integers(len(self.records) - 1))
            record = self.records[other + (other >= r)]  # skip record r
            if not record.captions:
                return ""  # not usable: the maker draws again
            return record.captions[int(rng.integers(len(record.captions)))]

        return draw
