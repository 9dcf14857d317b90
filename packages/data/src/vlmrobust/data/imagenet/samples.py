"""Sample, class-subset and image-set types shared by the ImageNet readers, and the bad-input policy."""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Literal

from vlmrobust.data.imagenet import metadata

log = logging.getLogger(__name__)

OnError = Literal["raise", "skip"]


class DatasetFormatError(ValueError):
    """Bad input in an official dataset layout; the message starts with the offending file (and line)."""


@dataclass(frozen=True, slots=True)
class Sample:
    """One image of an eval set.

    Attributes:
        sample_id: stable id, stored in the results DB (``ILSVRC2012_val_00000001`` for ImageNet val in any
            layout, else the image path relative to the set root, e.g. ``n01443537/art_0.jpg``).
        path: path of the image file.
        labels: class indices into the set's ``ClassSubset``; one for a single-label image, all correct
            classes for a multi-label one (clean / ReaL labels).
        in1k_labels: the IN-1k indices a 1000-way prediction may take to count as correct (the union of the
            IN-1k groups of ``labels``; for ObjectNet every IN-1k id mapped to the class).
        official: class index of the dataset's own (official) label when ``labels`` come from another
            source (clean / ReaL val labels; it need not be among ``labels``); ``None`` when ``labels`` are the
            official single label.
    """

    sample_id: str
    path: str
    labels: tuple[int, ...]
    in1k_labels: tuple[int, ...]
    official: int | None = None

    @property
    def label(self) -> int:
        """The first (for single-label sets: the only) class index."""
        return self.labels[0]

    @property
    def official_label(self) -> int:
        """Class index of the official label: ``official`` where set, else ``label``."""
        return self.label if self.official is None else self.official


@dataclass(frozen=True)
class ClassSubset:
    """The label space of an eval set, expressed in IN-1k classes.

    Attributes:
        name: subset name (``"imagenet-1k"``, ``"imagenet-r"``, ``"imagenet-a"``, ``"objectnet"``).
        in1k_groups: for each class k of the set, the IN-1k indices mapped to it (one each except ObjectNet).
        names: class names in label order (OpenAI CLIP names; lower-cased ObjectNet labels for ObjectNet).
    """

    name: str
    in1k_groups: tuple[tuple[int, ...], ...]
    names: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.in1k_groups)

    @property
    def is_full(self) -> bool:
        """True for the identity map onto all 1000 IN-1k classes."""
        return len(self) == metadata.NUM_CLASSES and all(g == (k,) for k, g in enumerate(self.in1k_groups))

    @cached_property
    def in1k_to_class(self) -> dict[int, int]:
        """Map IN-1k index -> class index of this subset (many-to-one for ObjectNet)."""
        return {i: k for k, group in enumerate(self.in1k_groups) for i in group}


@cache
def imagenet_1k_classes() -> ClassSubset:
    """All 1000 IN-1k classes with the OpenAI CLIP names."""
    return ClassSubset("imagenet-1k", tuple((i,) for i in range(1000)), metadata.clip_class_names())


def _subset(name: str, indices: Sequence[int]) -> ClassSubset:
    names = metadata.clip_class_names()
    return ClassSubset(name, tuple((i,) for i in indices), tuple(names[i] for i in indices))


@cache
def imagenet_r_classes() -> ClassSubset:
    """The 200 ImageNet-R classes (label = rank of the IN-1k index)."""
    return _subset("imagenet-r", metadata.imagenet_r_indices())


@cache
def imagenet_a_classes() -> ClassSubset:
    """The 200 ImageNet-A classes (label = rank of the IN-1k index)."""
    return _subset("imagenet-a", metadata.imagenet_a_indices())


@cache
def objectnet_classes() -> ClassSubset:
    """The 113 ObjectNet classes that overlap IN-1k (label = rank of the folder name) -> 125 IN-1k ids."""
    groups = tuple(metadata.objectnet_folder_to_in1k().values())
    return ClassSubset("objectnet", groups, metadata.objectnet_class_names())


@dataclass(frozen=True, slots=True)
class Skip:
    """One bad input skipped under ``on_error="skip"``: the file (or ``file:line``) and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class ImageSet:
    """An indexed eval set: its samples, label space and the bad inputs that were skipped.

    Attributes:
        name: eval-set name (e.g. ``"imagenet-val"``, ``"imagenet-r"``, ``"imagenet-val-on-objectnet-classes"``).
        root: the folder it was read from.
        samples: the samples, in a stable order.
        classes: the label space.
        id_set: name of the ID set this shift is paired with; ``None`` for an ID set.
        multi_label: whether samples may carry several correct labels.
        border_crop: pixels cropped from every side when an image is loaded (2 for ObjectNet).
        skipped: bad inputs skipped under ``on_error="skip"``.
        excluded: images left out by design: val images without a valid clean/ReaL label, ObjectNet images
            outside the 113 classes, val images on a shift's classes whose clean set has none of them.
    """

    name: str
    root: str
    samples: tuple[Sample, ...]
    classes: ClassSubset
    id_set: str | None = None
    multi_label: bool = False
    border_crop: int = 0
    skipped: tuple[Skip, ...] = ()
    excluded: int = 0

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __getitem__(self, i: int) -> Sample:
        return self.samples[i]


class Problems:
    """Collects bad inputs: raises on the first under ``"raise"``, records a ``Skip`` under ``"skip"``."""

    def __init__(self, on_error: OnError, what: str) -> None:
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.on_error = on_error
        self.what = what
        self.skips: list[Skip] = []

    def __call__(self, path: object, reason: str) -> None:
        """Report bad input at ``path`` (a file, folder or ``file:line``)."""
        if self.on_error == "raise":
            raise DatasetFormatError(f"{path}: {reason}")
        self.skips.append(Skip(str(path), reason))

    def finish(self, kept: int) -> tuple[Skip, ...]:
        """Log the count of skipped inputs (with the first few) and return them."""
        if self.skips:
            first = "; ".join(f"{s.path}: {s.reason}" for s in self.skips[:3])
            log.warning(
                "%s: skipped %d bad input(s), kept %d samples. First: %s",
                self.what,
                len(self.skips),
                kept,
                first,
            )
        return tuple(self.skips)


def close_matches(name: str, choices: Iterable[str]) -> str:
    """A "Did you mean ...?" hint for ``name`` among many ``choices`` (empty when none is close)."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
