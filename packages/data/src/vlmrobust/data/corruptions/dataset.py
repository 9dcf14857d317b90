"""``CorruptedDataset``: any labelled eval set with an ImageNet-C corruption applied on the fly.

The corruption acts on the PIL image *before* the image transform, so one corrupted set serves scorers
(a preprocessing transform giving tensors) and VLMs (``transform = None``: PIL images) alike. The wrapper
reads the base set through a shallow copy of it whose ``transform`` is ``None`` (every eval dataset then
yields PIL images, CONVENTIONS.md) and applies its own :attr:`~CorruptedDataset.transform` afterwards; the
base dataset itself is left as it was (a world ``LabelledDataset`` copy shares its in-memory image cache).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from vlmrobust.data.corruptions.apply import CorruptionName, check_corruption, corrupt
from vlmrobust.data.corruptions.library import imagecorruptions
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.mcq.dataset import LabelledEvalDataset


def corrupted_name(base: str, name: str, severity: int) -> str:
    """Eval-set name of a corrupted set: ``<base>/c/<name>/<severity>``; an ID set named ``<family>/id``
    (the world's ``world/id``) gives ``<family>/c/<name>/<severity>``."""
    return f"{base.removesuffix('/id')}/c/{name}/{severity}"


def corrupted_info(info: EvalSetInfo, name: str, severity: int) -> EvalSetInfo:
    """``info`` of the corrupted set: renamed (:func:`corrupted_name`) and paired with the base's ID set, or
    with the base itself when it is an ID set; classes, templates, task and size are the base's."""
    check_corruption(name, severity)
    return dataclasses.replace(
        info, name=corrupted_name(info.name, name, severity), id_set=info.id_set or info.name
    )


def _untransformed(base: LabelledEvalDataset) -> LabelledEvalDataset:
    """A shallow copy of ``base`` that yields PIL images, leaving ``base`` unchanged."""
    view = copy.copy(base)
    kept = base.transform
    view.transform = None
    if base.transform is not kept:  # the transform lives elsewhere (e.g. MCQDataset delegates to its base)
        base.transform = kept
        raise TypeError(
            f"cannot corrupt a {type(base).__name__}: its transform is not its own; corrupt the labelled "
            "dataset underneath (e.g. MCQDataset(CorruptedDataset(images, ...), questions))"
        )
    return view


class CorruptedDataset(Dataset[dict[str, Any]]):
    """A labelled eval dataset whose images carry an ImageNet-C corruption (CONVENTIONS.md eval batches).

    Items are the base dataset's (``label``, ``index``, ``labels`` ...) with ``image`` replaced by
    ``transform(corrupt(pil_image, name, severity, seed, sample_id))``; ``sample_id(i)`` is the base's, so
    corrupted and clean predictions of an image share their id (in different eval sets).

    Args:
        base: the eval dataset (``sample_id(i)``, a settable ``transform``, ``None`` giving PIL images):
            a world ``LabelledDataset``, ``ImageNetEvalDataset`` ...
        name: corruption, one of ``CORRUPTIONS``.
        severity: 1 to 5.
        seed: seed of the corruption draws (with each sample id).
        info: the base set's ``EvalSetInfo``; default ``base.info`` (``ImageNetEvalDataset`` has one).
        cache: keep the corrupted (pre-transform) images in memory, so later epochs skip the corruption
            (about 3 KB per 32 px image; each DataLoader worker keeps its own).

    Attributes:
        info: the corrupted set's ``EvalSetInfo`` (:func:`corrupted_info`).
        transform: PIL image -> model input, applied after the corruption; initially the base's.

    Raises:
        ValueError: unknown corruption or severity, or no ``info`` for a base without one.
        MissingDependencyError: ``imagecorruptions`` is not installed.
    """

    def __init__(
        self,
        base: LabelledEvalDataset,
        name: CorruptionName,  # corruption, one of CORRUPTIONS
        severity: int,  # 1 (mildest) to 5
        seed: int = 0,  # seed of the corruption draws, with each sample id
        info: EvalSetInfo | None = None,  # the base set's info; None: base.info
        cache: bool = False,  # keep corrupted images in memory across epochs
    ) -> None:
        check_corruption(name, severity)
        imagecorruptions()  # a missing extra fails here, not in a DataLoader worker
        info = info if info is not None else getattr(base, "info", None)
        if info is None:
            raise ValueError(f"{type(base).__name__} has no .info: pass info= (the base set's EvalSetInfo)")
        self.name, self.severity, self.seed = name, severity, int(seed)
        self.info = corrupted_info(info, name, severity)
        self.transform: Callable[[Image.Image], Any] | None = base.transform
        self._images = _untransformed(base)
        self._cache: dict[int, tuple[Image.Image, dict[str, Any]]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self._images)

    def sample_id(self, i: int) -> str:
        """Stable id of item ``i``: the base's."""
        return self._images.sample_id(i)

    def corrupted_image(self, i: int) -> tuple[Image.Image, dict[str, Any]]:
        """The corrupted PIL image of item ``i`` and the base item's other fields."""
        if self._cache is None:
            return self._corrupt(i)
        if i not in self._cache:
            self._cache[i] = self._corrupt(i)
        image, item = self._cache[i]
        return image, dict(item)

    def _corrupt(self, i: int) -> tuple[Image.Image, dict[str, Any]]:
        item = self._images[i]
        image = item.pop("image")
        if not isinstance(image, Image.Image):
            raise TypeError(
                f"{self.info.name}: item {i} of the base set is a {type(image).__name__}, not a PIL image, "
                "while its transform is None"
            )
        return corrupt(image, self.name, self.severity, self.seed, self.sample_id(i)), item

    def __getitem__(self, i: int) -> dict[str, Any]:
        image, item = self.corrupted_image(i)
        return {"image": self.transform(image) if self.transform is not None else image, **item}
