"""Packaged ImageNet metadata: wnids, OpenAI CLIP class names and templates, ImageNet-R/A and ObjectNet subsets.

Everything is read lazily from ``vlmrobust/data/imagenet/meta/`` (see ``meta/SOURCES.md``) and cached.
"IN-1k index" is the position of a wnid in the sorted list of the 1000 ILSVRC-2012 wnids.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

NUM_CLASSES = 1000


def read_meta_text(name: str) -> str:
    """Return the text of a packaged metadata file (``name`` relative to ``meta/``)."""
    return resources.files("vlmrobust.data.imagenet").joinpath("meta", name).read_text(encoding="utf-8")


@cache
def _imagenet_meta() -> dict[str, Any]:
    return json.loads(read_meta_text("imagenet_meta.json"))


@cache
def wnids() -> tuple[str, ...]:
    """The 1000 ILSVRC-2012 wnids in IN-1k index order (sorted)."""
    return tuple(_imagenet_meta()["wnids"])


@cache
def wnid_to_index() -> dict[str, int]:
    """Map wnid -> IN-1k index."""
    return {w: i for i, w in enumerate(wnids())}


@cache
def clip_class_names() -> tuple[str, ...]:
    """The 1000 OpenAI CLIP class names in IN-1k order. Not unique ("missile", "sunglasses" twice)."""
    return tuple(_imagenet_meta()["openai_classnames"])


@cache
def clip_templates() -> tuple[str, ...]:
    """The 80 OpenAI CLIP prompt templates, each with one ``{}`` for the class name."""
    return tuple(_imagenet_meta()["openai_templates"])


@cache
def imagenet_r_indices() -> tuple[int, ...]:
    """IN-1k indices of the 200 ImageNet-R classes, ascending (= sorted-wnid order of the subset)."""
    return tuple(_imagenet_meta()["imagenet_r_indices"])


@cache
def imagenet_a_indices() -> tuple[int, ...]:
    """IN-1k indices of the 200 ImageNet-A classes, ascending (= sorted-wnid order of the subset)."""
    return tuple(_imagenet_meta()["imagenet_a_indices"])


@cache
def objectnet_folder_labels() -> dict[str, str]:
    """All 313 ObjectNet folders -> ObjectNet label (``folder_to_objectnet_label.json``)."""
    return json.loads(read_meta_text("objectnet/folder_to_objectnet_label.json"))


@cache
def objectnet_folder_to_in1k() -> dict[str, tuple[int, ...]]:
    """The 113 ObjectNet folders that overlap IN-1k, sorted by folder, -> their IN-1k indices."""
    pairs = json.loads(read_meta_text("objectnet/objectnet_folder_to_in1k.json"))
    return {folder: tuple(ids) for folder, ids in sorted(pairs)}


@cache
def objectnet_class_names() -> tuple[str, ...]:
    """Names of the 113 ObjectNet classes in label order: the lower-cased ObjectNet label of each folder."""
    labels = objectnet_folder_labels()
    return tuple(labels[folder].lower() for folder in objectnet_folder_to_in1k())
