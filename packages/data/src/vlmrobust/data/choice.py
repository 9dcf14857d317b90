"""Datasets of the compositional benchmarks: records of caption choices, image choices and retrieval.

Every reader of a compositional benchmark (What'sUp, COCO/GQA-spatial, ARO, hard positives, MMVP, MMVP-VLM,
COCO/Flickr retrieval) parses its official files into records and wraps them in one of the three datasets
here, which load images lazily (RGB, an optional crop box) and yield the items of ``vlmrobust.data.evalsets``
(``captions``, ``images`` and ``retrieval`` tasks). The scoring rule of each benchmark lives in
``vlmrobust.eval.metrics.compositional``; ``meta`` carries the per-sample fields it groups by.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import Dataset

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet.images import load_image
from vlmrobust.data.imagenet.samples import Skip


class ImageCropError(ValueError):
    """A crop box does not fit its image; the message names the file and the box."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """Where an item's image is: a file, and an optional crop box ``(x, y, w, h)`` in pixels (ARO's bbox).

    Attributes:
        path: the image file.
        box: ``(x, y, w, h)`` cropped to ``(x, y, x + w, y + h)`` after decoding; ``None`` keeps the image.
    """

    path: Path
    box: tuple[float, float, float, float] | None = None

    def load(self) -> Image.Image:
        """The RGB image, cropped; a missing or corrupt file raises ``ImageDecodeError`` naming it."""
        image = load_image(str(self.path))
        if self.box is None:
            return image
        x, y, w, h = self.box
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x >= image.width or y >= image.height:
            raise ImageCropError(f"{self.path}: crop box (x={x}, y={y}, w={w}, h={h}) lies outside the "
                                 f"{image.width}x{image.height} image")  # fmt: skip
        return image.crop((x, y, x + w, y + h))


@dataclass(frozen=True)
class CaptionChoice:
    """One image and K caption options, the correct one at ``answer``.

    Attributes:
        sample_id: stable id stored in the results store (unique within the set).
        image: the image.
        texts: the caption options in the official order.
        answer: position of the correct caption.
        meta: per-sample fields the benchmark's metrics group by (JSON-able values).
        question: for question sets (MMVP) the question the ``texts`` answer; ``None`` for caption sets.
    """

    sample_id: str
    image: ImageRef
    texts: tuple[str, ...]
    answer: int
    meta: Mapping[str, Any] = field(default_factory=dict)
    question: str | None = None


@dataclass(frozen=True)
class ImageChoice:
    """One text and K candidate images, the matching one at ``answer`` (MMVP-VLM).

    Attributes:
        sample_id: stable id stored in the results store.
        images: the candidate images in order.
        text: the statement.
        answer: position of the image the statement describes.
        meta: per-sample fields the benchmark's metrics group by.
    """

    sample_id: str
    images: tuple[ImageRef, ...]
    text: str
    answer: int
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetrievalImage:
    """One image of a retrieval set and its reference captions.

    Attributes:
        sample_id: stable id (the Karpathy ``filename`` or BLIP ``image`` path).
        image: the image.
        captions: its captions (any number ≥ 1).
    """

    sample_id: str
    image: ImageRef
    captions: tuple[str, ...]


class _Records(Dataset):
    """Shared behaviour: records, the set's ``EvalSetInfo``, a settable ``transform``, ``sample_id``."""

    def __init__(
        self, records: Sequence[Any], info: EvalSetInfo, transform: Callable[[Any], Any] | None,
        skipped: Sequence[Skip],
    ) -> None:  # fmt: skip
        ids = [r.sample_id for r in records]
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dup = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise ValueError(f"{info.name}: sample id {dup!r} occurs twice")
        if info.num_samples != len(records):
            raise ValueError(
                f"{info.name}: info says {info.num_samples} samples, {len(records)} records given"
            )
        self.records = list(records)
        self.info = info
        self.transform = transform
        self.skipped = tuple(skipped)

    def __len__(self) -> int:
        return len(self.records)

    def sample_id(self, i: int) -> str:
        """The stored id of item ``i``."""
        return self.records[i].sample_id

    def _image(self, ref: ImageRef) -> Any:
        image = ref.load()
        return self.transform(image) if self.transform is not None else image


class CaptionChoiceDataset(_Records):
    """``captions`` items: ``image``, ``texts``, ``answer``, ``label`` (= answer), ``index``, ``meta``
    (and ``question`` for question sets).

    Args:
        records: the parsed records.
        info: the set's ``EvalSetInfo`` (task ``captions``).
        transform: image transform (a scorer's preprocessing); ``None`` yields PIL images.
        skipped: the inputs the reader skipped (``on_missing="skip"``), kept as ``skipped``.
    """

    def __init__(
        self, records: Sequence[CaptionChoice], info: EvalSetInfo, transform: Callable[[Any], Any] | None = None,
        skipped: Sequence[Skip] = (),
    ) -> None:  # fmt: skip
        if info.task != "captions":
            raise ValueError(f"{info.name}: CaptionChoiceDataset serves captions sets, not {info.task}")
        for r in records:
            if not 0 <= r.answer < len(r.texts):
                raise ValueError(
                    f"{info.name}: record {r.sample_id!r} has answer {r.answer} for {len(r.texts)} options"
                )
        super().__init__(records, info, transform, skipped)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r = self.records[i]
        item = {"image": self._image(r.image), "texts": list(r.texts), "answer": r.answer, "label": r.answer,
                "index": i, "meta": dict(r.meta)}  # fmt: skip
        if r.question is not None:
            item["question"] = r.question
        return item


class ImageChoiceDataset(_Records):
    """``images`` items: ``images`` (K), ``text``, ``answer``, ``label`` (= answer), ``index``, ``meta``.

    Args:
        records: the parsed records.
        info: the set's ``EvalSetInfo`` (task ``images``).
        transform: image transform; ``None`` yields PIL images.
        skipped: the inputs the reader skipped (``on_missing="skip"``), kept as ``skipped``.
    """

    def __init__(
        self, records: Sequence[ImageChoice], info: EvalSetInfo, transform: Callable[[Any], Any] | None = None,
        skipped: Sequence[Skip] = (),
    ) -> None:  # fmt: skip
        if info.task != "images":
            raise ValueError(f"{info.name}: ImageChoiceDataset serves images sets, not {info.task}")
        for r in records:
            if not 0 <= r.answer < len(r.images):
                raise ValueError(
                    f"{info.name}: record {r.sample_id!r} has answer {r.answer} for {len(r.images)} images"
                )
        super().__init__(records, info, transform, skipped)

    def __getitem__(self, i: int) -> dict[str, Any]:
        r = self.records[i]
        return {"images": [self._image(ref) for ref in r.images], "text": r.text, "answer": r.answer,
                "label": r.answer, "index": i, "meta": dict(r.meta)}  # fmt: skip


class RetrievalDataset(_Records):
    """``retrieval`` items: ``image``, ``captions``, ``caption_ids``, ``label`` (= the image's position),
    ``index``; ``captions`` / ``caption_image`` list every caption of the set and its image.

    Args:
        records: the images and their captions.
        info: the set's ``EvalSetInfo`` (task ``retrieval``).
        transform: image transform; ``None`` yields PIL images.
        skipped: the inputs the reader skipped (``on_missing="skip"``), kept as ``skipped``.
    """

    def __init__(
        self, records: Sequence[RetrievalImage], info: EvalSetInfo, transform: Callable[[Any], Any] | None = None,
        skipped: Sequence[Skip] = (),
    ) -> None:  # fmt: skip
        if info.task != "retrieval":
            raise ValueError(f"{info.name}: RetrievalDataset serves retrieval sets, not {info.task}")
        super().__init__(records, info, transform, skipped)
        self.captions: list[str] = []
        self.caption_image: list[int] = []
        self._caption_ids: list[list[int]] = []
        for i, r in enumerate(self.records):
            if not r.captions:
                raise ValueError(f"{info.name}: image {r.sample_id!r} has no captions")
            start = len(self.captions)
            self.captions += r.captions
            self.caption_image += [i] * len(r.captions)
            self._caption_ids.append(list(range(start, len(self.captions))))

    def __getitem__(self, i: int) -> dict[str, Any]:
        r = self.records[i]
        return {"image": self._image(r.image), "captions": list(r.captions), "caption_ids": self._caption_ids[i],
                "label": i, "index": i}  # fmt: skip
