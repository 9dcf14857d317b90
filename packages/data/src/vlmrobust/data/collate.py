"""Collate eval items whatever their images are: tensors are stacked, PIL images and strings kept as lists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import default_collate


def eval_collate(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Batch a list of eval items (CONVENTIONS.md eval batches).

    Tensors and numbers go through ``default_collate`` (stacked); any other value (a PIL image for a VLM,
    a caption string) becomes a list of length B, so generative models receive their raw images.
    """
    if not items:
        raise ValueError("cannot collate an empty batch")
    batch: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if all(isinstance(v, torch.Tensor | int | float | bool) for v in values):
            batch[key] = default_collate(values)
        else:
            batch[key] = values
    return batch
