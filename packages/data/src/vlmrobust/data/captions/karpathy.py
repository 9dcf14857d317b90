"""Reader of the Karpathy caption splits ``dataset_coco.json`` and ``dataset_flickr30k.json``.

Both files (``caption_datasets.zip``) share one schema, ``{"images": [...], "dataset": "coco" | "flickr30k"}``,
one record per image::

    {"filepath": "val2014", "sentids": [770337, ...], "filename": "COCO_val2014_000000391895.jpg",
     "imgid": 0, "split": "test", "sentences": [{"tokens": [...], "raw": "A man with ... road. ",
     "imgid": 0, "sentid": 770337}, ...], "cocoid": 391895}

Flickr30k records have no ``filepath`` (nor ``cocoid``): their images lie directly in the image root. The
splits are ``train``, ``restval`` (COCO only), ``val`` and ``test``; "Karpathy train" is train + restval.

The file is read with ``json.load`` (the real COCO file is ~150 MB, about 1-2 GB of Python objects while
parsing); the records kept are compact tuples and the parsed dict is dropped at return.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.imagenet.samples import DatasetFormatError, OnError, Problems, Skip

KarpathySplit = Literal["train", "restval", "val", "test"]
#: Every split name of the Karpathy files.
KARPATHY_SPLITS: tuple[KarpathySplit, ...] = ("train", "restval", "val", "test")
#: "Karpathy train": the split the CLIP / retrieval literature trains on.
KARPATHY_TRAIN: tuple[KarpathySplit, ...] = ("train", "restval")


@dataclass(frozen=True, slots=True)
class CaptionRecord:
    """One image of a Karpathy split file with its captions.

    Attributes:
        image_path: ``<image_root>/<filepath>/<filename>`` (``<image_root>/<filename>`` without ``filepath``).
        split: ``train``, ``restval``, ``val`` or ``test``.
        captions: the ``raw`` sentences, stripped of surrounding whitespace, in file order.
        sentence_ids: the ``sentid`` of each caption (same order).
        image_id: ``imgid``, the 0-based position of the image in the file.
        coco_id: ``cocoid`` (the COCO image id); ``None`` for Flickr30k.
    """

    image_path: str
    split: str
    captions: tuple[str, ...]
    sentence_ids: tuple[int, ...]
    image_id: int
    coco_id: int | None = None


@dataclass(frozen=True)
class KarpathyCaptions:
    """The records of the requested splits of one Karpathy file, and the images skipped as missing.

    Attributes:
        path: the JSON file read.
        dataset: its ``dataset`` field (``"coco"``, ``"flickr30k"``), ``None`` when absent.
        splits: the splits kept.
        records: the kept images, in file order.
        skipped: images whose file does not exist, under ``on_missing="skip"``.
    """

    path: str
    dataset: str | None
    splits: tuple[str, ...]
    records: tuple[CaptionRecord, ...]
    skipped: tuple[Skip, ...] = ()

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[CaptionRecord]:
        return iter(self.records)

    def __getitem__(self, i: int) -> CaptionRecord:
        return self.records[i]

    @property
    def num_captions(self) -> int:
        """Total number of (image, caption) pairs."""
        return sum(len(r.captions) for r in self.records)


def check_splits(splits: Sequence[str]) -> tuple[str, ...]:
    """``splits`` as a de-duplicated tuple, after checking every name is a Karpathy split."""
    if isinstance(splits, str):
        splits = (splits,)
    for s in splits:
        if s not in KARPATHY_SPLITS:
            raise ValueError(f"unknown Karpathy split {s!r}. {did_you_mean(s, KARPATHY_SPLITS, 'splits')}")
    if not splits:
        raise ValueError(f"no Karpathy split requested; valid: {', '.join(KARPATHY_SPLITS)}")
    return tuple(dict.fromkeys(splits))


class _Record:
    """Typed field access on one image record; every error names the file, the index and the key."""

    def __init__(self, path: str, index: int, raw: Any) -> None:
        self.where = f"{path}: images[{index}]"
        if not isinstance(raw, dict):
            raise DatasetFormatError(f"{self.where}: expected an object, got {type(raw).__name__}")
        self.raw = raw

    def fail(self, message: str) -> DatasetFormatError:
        """An error naming the file and record."""
        return DatasetFormatError(f"{self.where}: {message}")

    def get(self, key: str, kind: type, obj: dict | None = None, at: str = "") -> Any:
        """``obj[key]`` (default: the record) checked to be a ``kind``; ``at`` prefixes the key in errors."""
        obj = self.raw if obj is None else obj
        if key not in obj:
            raise self.fail(f"missing key {at}{key!r}")
        value = obj[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.fail(
                f"key {at}{key!r} must be {kind.__name__}, got {type(value).__name__} {value!r:.60}"
            )
        return value


def _parse(rec: _Record, image_root: Path) -> CaptionRecord:
    """Validate one record and build its ``CaptionRecord`` (the image file is not checked here)."""
    image_id = rec.get("imgid", int)
    split = rec.get("split", str)
    if split not in KARPATHY_SPLITS:
        raise rec.fail(f"unknown split {split!r}. {did_you_mean(split, KARPATHY_SPLITS, 'splits')}")
    filename = rec.get("filename", str)
    filepath = rec.get("filepath", str) if "filepath" in rec.raw else None
    coco_id = rec.get("cocoid", int) if "cocoid" in rec.raw else None
    sentences = rec.get("sentences", list)
    if not sentences:
        raise rec.fail("key 'sentences' is empty (every image has captions)")
    captions, sent_ids = [], []
    for j, sentence in enumerate(sentences):
        at = f"sentences[{j}]."
        if not isinstance(sentence, dict):
            raise rec.fail(f"sentences[{j}] must be an object, got {type(sentence).__name__}")
        text = rec.get("raw", str, sentence, at).strip()
        if not text:
            raise rec.fail(f"{at}'raw' is empty")
        sent_id = rec.get("sentid", int, sentence, at)
        if "imgid" in sentence and rec.get("imgid", int, sentence, at) != image_id:
            raise rec.fail(f"{at}'imgid' is {sentence['imgid']}, but the image's imgid is {image_id}")
        captions.append(text)
        sent_ids.append(sent_id)
    listed = rec.get("sentids", list)
    if listed != sent_ids:
        raise rec.fail(f"'sentids' {listed} differ from the sentences' sentid {sent_ids}")
    folder = image_root / filepath if filepath else image_root
    return CaptionRecord(str(folder / filename), split, tuple(captions), tuple(sent_ids), image_id, coco_id)


def read_karpathy(
    json_path: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    splits: Sequence[KarpathySplit] = KARPATHY_TRAIN,
    *,
    on_missing: OnError = "raise",
) -> KarpathyCaptions:
    """Read the images of ``splits`` from a Karpathy split file, with their captions.

    Every record of the file is validated (types, split names, sentence ids); the image files of the
    requested splits must exist.

    Args:
        json_path: ``dataset_coco.json`` or ``dataset_flickr30k.json``.
        image_root: folder holding ``train2014/`` and ``val2014/`` (COCO) or the images (Flickr30k).
        splits: splits to keep; default train + restval ("Karpathy train").
        on_missing: a missing image file: ``raise``, or ``skip`` it (counted in ``skipped`` and logged).

    Returns:
        The kept records in file order, with the skipped images.

    Raises:
        DatasetFormatError: malformed JSON or record (the message names the file and ``images[i]``), or a
            missing image under ``on_missing="raise"`` (the message names the image path).
        ValueError: an unknown name in ``splits``.
    """
    wanted = check_splits(splits)
    path = str(json_path)
    problems = Problems(on_missing, f"Karpathy captions {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise DatasetFormatError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DatasetFormatError(f'{path}: expected an object {{"images": [...], "dataset": ...}}')
    dataset = data.get("dataset")
    if dataset is not None and not isinstance(dataset, str):
        raise DatasetFormatError(f"{path}: key 'dataset' must be str, got {type(dataset).__name__}")
    root, kept, seen = Path(image_root), [], {}
    for i, raw in enumerate(data["images"]):
        record = _parse(_Record(path, i, raw), root)
        if record.image_id in seen:
            first = seen[record.image_id]
            raise DatasetFormatError(f"{path}: images[{i}]: imgid {record.image_id} repeats images[{first}]")
        seen[record.image_id] = i
        if record.split not in wanted:
            continue
        if not os.path.isfile(record.image_path):
            problems(record.image_path, f"image file not found (images[{i}] of {path})")
            continue
        kept.append(record)
    skipped = problems.finish(len(kept))
    return KarpathyCaptions(path, dataset, wanted, tuple(kept), skipped)
