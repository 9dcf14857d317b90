"""ID on a shift's classes: ImageNet val restricted to a shift's class subset, and logits collapsed onto it.

DESIGN.md: for ImageNet-R and -A the ID counterpart is val restricted to their 200 classes with the logits
restricted to those classes; for ObjectNet, val restricted to the images of the 113 classes with
predictions collapsed by max over the IN-1k ids mapped to each ObjectNet class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from vlmrobust.data.imagenet.samples import ClassSubset, ImageSet, Sample

if TYPE_CHECKING:
    import torch


def paired_id_name(val_name: str, classes: ClassSubset) -> str:
    """Name of the ID set paired with a shift on ``classes``: ``val_name`` itself for all 1000 classes,
    else ``f"{val_name}-on-{classes.name}-classes"`` (imagenet-testbed's ``val-on-<shift>-classes``)."""
    return val_name if classes.is_full else f"{val_name}-on-{classes.name}-classes"


def restrict_to_classes(val: ImageSet, classes: ClassSubset, *, name: str | None = None) -> ImageSet:
    """Keep the val images with a label among ``classes`` and relabel them into that subset.

    A multi-label image keeps the subset classes of its labels and is dropped if none is in the subset.
    ``in1k_labels`` becomes the union of the IN-1k groups of the new labels (for ObjectNet: every IN-1k
    id of the class, as for ObjectNet's own images).

    Args:
        val: a 1000-class ImageNet val set (any layout and label source).
        classes: the shift's class subset.
        name: name of the result; default ``paired_id_name(val.name, classes)``.
    """
    if not val.classes.is_full:
        raise ValueError(f"{val.name}: restrict a 1000-class val set, not one on {val.classes.name!r}")
    to_class = classes.in1k_to_class
    groups = classes.in1k_groups
    samples = []
    for s in val.samples:
        ks = tuple(dict.fromkeys(to_class[i] for i in s.in1k_labels if i in to_class))
        if ks:
            in1k = groups[ks[0]] if len(ks) == 1 else tuple(i for k in ks for i in groups[k])
            samples.append(Sample(s.sample_id, s.path, ks, in1k))
    return dataclasses.replace(
        val,
        name=name or paired_id_name(val.name, classes),
        samples=tuple(samples),
        classes=classes,
        id_set=None,
    )


def id_counterpart(val: ImageSet, shift: ImageSet) -> ImageSet:
    """The ID set of ``shift``: ``val`` itself for a 1000-class shift, else val restricted to its classes."""
    return val if shift.classes.is_full else restrict_to_classes(val, shift.classes)


def pair_with_val(val: ImageSet, shift: ImageSet) -> tuple[ImageSet, ImageSet]:
    """Return ``(ID counterpart, shift)`` with the shift's ``id_set`` naming that counterpart."""
    id_set = id_counterpart(val, shift)
    return id_set, dataclasses.replace(shift, id_set=id_set.name)


def collapse_logits(logits: torch.Tensor, groups: Sequence[Sequence[int]]) -> torch.Tensor:
    """Collapse 1000-way logits onto a class subset: ``out[..., k] = max(logits[..., groups[k]])``.

    With one IN-1k id per group (ImageNet-R/A) this is plain restriction to those columns; for ObjectNet
    (``objectnet_classes().in1k_groups``) it is the max over the ids mapped to each class.

    Args:
        logits: ``(..., 1000)`` scores.
        groups: for each subset class, the IN-1k indices mapped to it (non-empty).

    Returns:
        ``(..., len(groups))`` scores.
    """
    import torch

    if any(len(g) == 0 for g in groups):
        raise ValueError("every group of IN-1k ids must be non-empty")
    if all(len(g) == 1 for g in groups):
        return logits[..., torch.tensor([g[0] for g in groups], device=logits.device)]
    width = max(len(g) for g in groups)
    # pad each group by repeating its first id, which leaves the max unchanged
    table = torch.tensor(
        [list(g) + [g[0]] * (width - len(g)) for g in groups], device=logits.device
    )  # (K, W)
    gathered = logits[..., table.reshape(-1)]  # (..., K * W)
    return gathered.reshape(*logits.shape[:-1], len(groups), width).amax(dim=-1)  # (..., K)
