"""Torch ``Dataset`` over an indexed ImageNet-family set, yielding ``{"image", "label", "index"}``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from PIL import Image
from torch.utils.data import Dataset

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet import metadata
from vlmrobust.data.imagenet.images import load_image
from vlmrobust.data.imagenet.samples import ClassSubset, ImageSet, imagenet_1k_classes


def eval_set_info(image_set: ImageSet) -> EvalSetInfo:
    """``EvalSetInfo`` of a set: its class names, the 80 OpenAI templates and its paired ID set.

    A set whose classes map to several IN-1k classes each (ObjectNet, val on ObjectNet's classes) is scored
    over the mapped IN-1k columns (``head_names``, e.g. 125 for ObjectNet), each column counting for its
    class (``head_to_class``): argmax over those columns, then mapped, never a 1000-way argmax.
    """
    groups = image_set.classes.in1k_groups
    head_names = head_to_class = None
    if any(len(g) != 1 for g in groups):
        in1k = imagenet_1k_classes().names
        head_names = tuple(in1k[i] for g in groups for i in g)
        head_to_class = tuple(k for k, g in enumerate(groups) for _ in g)
    return EvalSetInfo(
        name=image_set.name,
        class_names=image_set.classes.names,
        templates=metadata.clip_templates(),
        id_set=image_set.id_set,
        num_samples=len(image_set),
        multi_label=image_set.multi_label,
        head_names=head_names,
        head_to_class=head_to_class,
    )


class ImageNetEvalDataset(Dataset[dict[str, Any]]):
    """Map-style dataset over an ``ImageSet`` (CONVENTIONS.md eval batches).

    Items are ``{"image": transform(PIL RGB image), "label": int, "index": int}``; multi-label sets (clean
    or ReaL labels) add ``"labels"``, a ``(num_classes,)`` bool multi-hot tensor of every correct class
    (``label`` is then the first of them). ObjectNet images are border-cropped before the transform.
    A corrupt image raises ``ImageDecodeError`` naming the file.

    Args:
        image_set: the indexed set (from a ``read_*`` function).
        transform: PIL image -> model input (e.g. a tensor); ``None`` yields the PIL image.
    """

    def __init__(self, image_set: ImageSet, transform: Callable[[Image.Image], Any] | None = None) -> None:
        self.image_set = image_set
        self.transform = transform
        self.info = eval_set_info(image_set)

    @property
    def classes(self) -> ClassSubset:
        """The label space (with the IN-1k ids of each class, for ``collapse_logits``)."""
        return self.image_set.classes

    def __len__(self) -> int:
        return len(self.image_set)

    def sample_id(self, i: int) -> str:
        """Stable id of item ``i`` (stored in the results DB)."""
        return self.image_set.samples[i].sample_id

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = self.image_set.samples[i]
        image = load_image(sample.path, self.image_set.border_crop)
        item: dict[str, Any] = {
            "image": self.transform(image) if self.transform is not None else image,
            "label": sample.label,
            "index": i,
        }
        if self.image_set.multi_label:
            labels = torch.zeros(len(self.image_set.classes), dtype=torch.bool)
            labels[list(sample.labels)] = True
            item["labels"] = labels
        return item
