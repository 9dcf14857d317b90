"""Image-text retrieval sets, and the BLIP test files (``coco_karpathy_test.json``, ``flickr30k_test.json``).

* :func:`read_retrieval_karpathy`: one Karpathy split (default ``test``) of ``dataset_coco.json`` /
  ``dataset_flickr30k.json`` as a ``retrieval`` set: one item per image with its raw captions, every caption
  of the set ranked against every image (CLIP_benchmark's protocol).
* :func:`read_blip_test`: BLIP's test files, a JSON list of ``{"image": "val2014/COCO_val2014_...jpg",
  "caption": [...]}`` (the Karpathy test split re-packed); ARO's COCO-/Flickr30k-Order sets are built from
  them (:mod:`vlmrobust.data.captions.order`). :func:`write_blip_test` writes synthetic ones for tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vlmrobust.core.atomic import atomic_write_text
from vlmrobust.data.captions.fixtures import write_karpathy
from vlmrobust.data.captions.karpathy import KarpathySplit, read_karpathy
from vlmrobust.data.choice import ImageRef, RetrievalDataset, RetrievalImage
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet.samples import DatasetFormatError, OnError, Problems, Skip
from vlmrobust.data.records import load_json_array

BlipDataset = Literal["coco", "flickr30k"]
#: File names of BLIP's test annotation files.
BLIP_TEST_FILES: dict[str, str] = {"coco": "coco_karpathy_test.json", "flickr30k": "flickr30k_test.json"}


def read_retrieval_karpathy(
    json_path: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    split: KarpathySplit = "test",
    *,
    name: str | None = None,
    on_missing: OnError = "raise",
) -> RetrievalDataset:
    """One split of a Karpathy file as a ``retrieval`` set (via ``read_karpathy``; no image is opened).

    Items are the split's images in file order; their ``captions`` are the ``raw`` sentences (stripped);
    sample ids are the image file names. The set is named ``<dataset>-retrieval`` (``coco-retrieval``,
    ``flickr30k-retrieval``) from the file's ``dataset`` key, ``<dataset>-retrieval-<split>`` for a split
    other than ``test``, unless ``name`` is given.

    Args:
        json_path: ``dataset_coco.json`` or ``dataset_flickr30k.json``.
        image_root: folder holding ``train2014/`` and ``val2014/`` (COCO) or the images (Flickr30k).
        split: the Karpathy split served.
        name: eval-set name; default from the file's ``dataset`` key.
        on_missing: a missing image file: ``raise``, or ``skip`` it (counted and logged).

    Returns:
        The ``retrieval`` dataset (benchmark ``retrieval``).

    Raises:
        DatasetFormatError: malformed file or record, or a missing image under ``on_missing="raise"``.
        ValueError: no ``name`` and the file has no ``dataset`` key, or an unknown split.
    """
    captions = read_karpathy(json_path, image_root, (split,), on_missing=on_missing)
    if name is None:
        if captions.dataset is None:
            raise ValueError(f"{json_path}: no 'dataset' key to name the set by; pass name=...")
        name = f"{captions.dataset}-retrieval" + ("" if split == "test" else f"-{split}")
    records = [
        RetrievalImage(Path(r.image_path).name, ImageRef(Path(r.image_path)), r.captions) for r in captions
    ]
    info = EvalSetInfo(name, (), (), None, len(records), task="retrieval", benchmark="retrieval")
    return RetrievalDataset(records, info, skipped=captions.skipped)


@dataclass(frozen=True)
class BlipTest:
    """The images of a BLIP test file with their captions, and the images skipped as missing.

    Attributes:
        path: the JSON file read.
        records: the kept images in file order (sample id = the ``image`` field, e.g. ``val2014/...jpg``).
        indices: the position in the file of each kept record.
        skipped: images whose file does not exist, under ``on_missing="skip"``.
    """

    path: str
    records: tuple[RetrievalImage, ...]
    indices: tuple[int, ...]
    skipped: tuple[Skip, ...] = ()

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[RetrievalImage]:
        return iter(self.records)

    def __getitem__(self, i: int) -> RetrievalImage:
        return self.records[i]


def _item(path: str, i: int, raw: Any) -> tuple[str, tuple[str, ...]]:
    """``(image, captions)`` of item ``i``, validated; errors name the file and the item."""
    where = f"{path}: item {i}"
    if not isinstance(raw, dict):
        raise DatasetFormatError(f"{where}: expected an object, got {type(raw).__name__}")
    for key in ("image", "caption"):
        if key not in raw:
            raise DatasetFormatError(f"{where}: missing key {key!r}")
    image, captions = raw["image"], raw["caption"]
    if not isinstance(image, str) or not image:
        raise DatasetFormatError(f"{where}: key 'image' must be a non-empty str, got {image!r:.60}")
    if not isinstance(captions, list) or not captions:
        raise DatasetFormatError(
            f"{where}: key 'caption' must be a non-empty list of str, got {captions!r:.60}"
        )
    for j, c in enumerate(captions):
        if not isinstance(c, str) or not c.strip():
            raise DatasetFormatError(f"{where}: caption[{j}] must be a non-empty str, got {c!r:.60}")
    return image, tuple(captions)


def read_blip_test(
    json_path: str | os.PathLike[str], image_root: str | os.PathLike[str], *, on_missing: OnError = "raise"
) -> BlipTest:
    """Read BLIP's ``coco_karpathy_test.json`` / ``flickr30k_test.json`` (no image is opened).

    Captions are kept verbatim (ARO normalises them with ``pre_caption`` when it builds its options).

    Args:
        json_path: the BLIP test file, a JSON list of ``{"image": <path>, "caption": [str, ...]}``.
        image_root: folder the ``image`` paths are relative to (ARO's ``COCO_ROOT`` / ``FLICKR_ROOT``).
        on_missing: a missing image file: ``raise``, or ``skip`` it (counted in ``skipped`` and logged).

    Returns:
        The kept images with their captions, their file positions and the skipped images.

    Raises:
        DatasetFormatError: not valid JSON, not a list, a malformed or repeated item (the message names the
            file and the item index), or a missing image under ``on_missing="raise"``.
    """
    path = str(json_path)
    data = load_json_array(path)
    items: dict[str, tuple[int, tuple[str, ...]]] = {}  # image -> (item index, captions), validated first
    for i, raw in enumerate(data):
        image, captions = _item(path, i, raw)
        if image in items:
            raise DatasetFormatError(f"{path}: item {i}: image {image!r} repeats item {items[image][0]}")
        items[image] = (i, captions)
    problems = Problems(on_missing, f"BLIP test file {path}")
    root, records, indices = Path(image_root), [], []
    for image, (i, captions) in items.items():
        file = root / image
        if not file.is_file():
            problems(file, f"image file not found (item {i} of {path})")
            continue
        records.append(RetrievalImage(image, ImageRef(file), captions))
        indices.append(i)
    skipped = problems.finish(len(records))
    return BlipTest(path, tuple(records), tuple(indices), skipped)


@dataclass(frozen=True)
class BlipFiles:
    """Paths of a written synthetic BLIP test file: pass them to ``read_blip_test(json_path, image_root)``."""

    json_path: Path
    image_root: Path


def write_blip_test(
    root: str | os.PathLike[str],
    dataset: BlipDataset = "coco",
    n_images: int = 2,
    seed: int = 0,
    image_size: int = 32,
) -> BlipFiles:
    """Write a synthetic BLIP test file and its JPEG images under ``root``.

    BLIP's test files re-pack the Karpathy test split, so this writes a Karpathy file of ``n_images`` test
    images (``write_karpathy``; ``dataset_<dataset>.json`` stays beside it) and converts it: one item per
    image, ``image`` = ``val2014/COCO_val2014_<id>.jpg`` or ``flickr30k-images/<id>.jpg``, ``caption`` = its
    ``raw`` sentences verbatim (5, or 6 on every third image), written to ``coco_karpathy_test.json`` /
    ``flickr30k_test.json``.

    Args:
        root: output folder (created); also the image root.
        dataset: ``coco`` or ``flickr30k`` layout.
        n_images: number of images.
        seed: seed of images, captions and ids.
        image_size: side of the square images in pixels.

    Returns:
        The JSON path and the image root to read it with.
    """
    if dataset not in BLIP_TEST_FILES:
        raise ValueError(f"unknown BLIP test dataset {dataset!r}; valid: {', '.join(BLIP_TEST_FILES)}")
    root = Path(root)
    karpathy = write_karpathy(root, dataset, {"test": n_images}, seed=seed, image_size=image_size)
    images = json.loads(karpathy.json_path.read_text(encoding="utf-8"))["images"]
    folder = karpathy.image_root.relative_to(root)  # "." (COCO) or "flickr30k-images"
    items = [
        {"image": (folder / im.get("filepath", "") / im["filename"]).as_posix(),
         "caption": [s["raw"] for s in im["sentences"]]}
        for im in images
    ]  # fmt: skip
    json_path = root / BLIP_TEST_FILES[dataset]
    atomic_write_text(json_path, json.dumps(items))
    return BlipFiles(json_path, root)
