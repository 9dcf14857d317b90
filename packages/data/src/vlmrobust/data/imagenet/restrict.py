"""ID on a shift's classes: ImageNet val restricted to a shift's class subset, and logits collapsed onto it.

DESIGN.md: for ImageNet-R and -A the ID counterpart is val restricted to their 200 classes with the logits
restricted to those classes; for ObjectNet, val restricted to the images of the 113 classes with
predictions collapsed by max over the IN-1k ids mapped to each ObjectNet class. Membership of an image
follows its official label; with clean labels a prediction is correct if it is in the image's clean set
restricted to the shift's classes, and an image whose clean set has none of them is excluded and counted.
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
    """Keep the val images whose official label is among ``classes`` and relabel them into that subset.

    Membership follows the official label (as imagenet-testbed), never the clean / ReaL labels. For a
    multi-label set (whose images all have a valid label set already) ``labels`` become the image's correct
    classes that are in the subset (a prediction is correct iff it is one of them); an image whose label set
    has no class of the subset is excluded and counted in ``excluded`` (images without any valid label are
    not in ``val`` at all: ``val.excluded`` counts them). ``official`` becomes the subset class of the
    official label. ``in1k_labels`` is the union of the IN-1k groups of the new labels (for ObjectNet:
    every IN-1k id of the class, as for ObjectNet's own images).

    Args:
        val: a 1000-class ImageNet val set (any layout and label source).
        classes: the shift's class subset.
        name: name of the result; default ``paired_id_name(val.name, classes)``.

    Raises:
        ValueError: ``val`` is not a 1000-class set, or a multi-label sample does not record its official
            label (``Sample.official``), so its membership cannot be decided.
    """
    if not val.classes.is_full:
        raise ValueError(f"{val.name}: restrict a 1000-class val set, not one on {val.classes.name!r}")
    to_class = classes.in1k_to_class
    groups = classes.in1k_groups
    samples, excluded = [], 0
    for s in val.samples:
        if val.multi_label and s.official is None:
            raise ValueError(
                f"{val.name}: sample {s.sample_id!r} has no official label; membership of a shift's classes "
                "follows it (read val with read_imagenet_val)"
            )
        official = to_class.get(s.official_label)
        if official is None:
            continue  # not an image of the shift's classes
        if not val.multi_label:
            samples.append(Sample(s.sample_id, s.path, (official,), groups[official]))
            continue
        ks = tuple(dict.fromkeys(to_class[i] for i in s.labels if i in to_class))
        if not ks:
            excluded += 1  # its valid labels are all outside the shift's classes
            continue
        in1k = groups[ks[0]] if len(ks) == 1 else tuple(i for k in ks for i in groups[k])
        samples.append(Sample(s.sample_id, s.path, ks, in1k, official=official))
    return dataclasses.replace(
        val,
        name=name or paired_id_name(val.name, classes),
        samples=tuple(samples),
        classes=classes,
        id_set=None,
        excluded=excluded,
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
