"""Writer of small synthetic Karpathy split files in the official format, with real JPEG images.

Images and captions come from the procedural world (``vlmrobust.data.world``), so captions describe their
images (the class name always appears) and a tiny CLIP can learn from them. Layouts written:

* COCO: ``<root>/dataset_coco.json``, ``<root>/train2014/COCO_train2014_<cocoid:012d>.jpg`` for the
  ``train`` split and ``<root>/val2014/COCO_val2014_<cocoid:012d>.jpg`` for ``restval``/``val``/``test``
  (Karpathy's val, test and restval images all come from COCO val2014); image root ``<root>``.
* Flickr30k: ``<root>/dataset_flickr30k.json`` and ``<root>/flickr30k-images/<id>.jpg``, no ``filepath``
  key (image root ``<root>/flickr30k-images``); splits ``train``/``val``/``test`` only.

As in the real files, ``raw`` keeps odd whitespace (a trailing space on some sentences), ``tokens`` are
lower-cased and punctuation-free, most images have 5 sentences and some 6, COCO sentence ids are sparse
annotation ids and Flickr30k ones run 0, 1, 2 ... in file order.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from vlmrobust.core.atomic import atomic_write_text
from vlmrobust.data.captions.karpathy import KARPATHY_SPLITS
from vlmrobust.data.world.captions import caption
from vlmrobust.data.world.generator import ProceduralWorld, WorldSample

Dataset = Literal["coco", "flickr30k"]
#: Default images per split of a synthetic file.
DEFAULT_IMAGES_PER_SPLIT: dict[str, dict[str, int]] = {
    "coco": {"train": 4, "restval": 2, "val": 2, "test": 2},
    "flickr30k": {"train": 4, "val": 2, "test": 2},
}
_SENTENCES = 5  # sentences per image ...
_EXTRA_EVERY = 3  # ... plus one on every third image (imgid % 3 == 2), like COCO's few 6-7s


@dataclass(frozen=True)
class KarpathyFiles:
    """Paths of a written synthetic dataset: pass them to ``read_karpathy(json_path, image_root)``."""

    json_path: Path
    image_root: Path


def coco_file_name(folder: str, coco_id: int) -> str:
    """Official COCO 2014 file name, e.g. ``COCO_val2014_000000391895.jpg`` for (``val2014``, 391895)."""
    return f"COCO_{folder}_{coco_id:012d}.jpg"


def tokens(raw: str) -> list[str]:
    """Lower-cased, punctuation-free tokens of a sentence (the form of the files' ``tokens``)."""
    return re.findall(r"[a-z0-9]+", raw.lower())


def _raw(text: str, j: int) -> str:
    text = text[:1].upper() + text[1:]
    return text + " " if j % 2 == 0 else text  # the real files often keep a trailing space


def _captions(sample: WorldSample, n: int, seed: int, imgid: int) -> list[str]:
    """``n`` captions of a world sample: its own, then distinct further draws of its domain's templates."""
    rng = np.random.default_rng([seed, 8, imgid])
    texts = [sample.caption]
    for _ in range(20 * n):  # few templates per domain: draw until distinct (repeats only if exhausted)
        if len(texts) == n:
            break
        text = caption("id", sample.attrs, rng)
        if text not in texts:
            texts.append(text)
    while len(texts) < n:
        texts.append(caption("id", sample.attrs, rng))
    return texts


def _record(
    dataset: Dataset, split: str, imgid: int, sentences: list[dict], coco_id: int, flickr_name: int
) -> tuple[dict, str]:
    """One image record, keys in the official order, and its image path relative to the image root."""
    sent_ids = [s["sentid"] for s in sentences]
    if dataset == "flickr30k":
        filename = f"{flickr_name}.jpg"
        return {"sentids": sent_ids, "imgid": imgid, "sentences": sentences, "split": split,
                "filename": filename}, filename  # fmt: skip
    folder = "train2014" if split == "train" else "val2014"
    filename = coco_file_name(folder, coco_id)
    record = {"filepath": folder, "sentids": sent_ids, "filename": filename, "imgid": imgid, "split": split,
              "sentences": sentences, "cocoid": coco_id}  # fmt: skip
    return record, f"{folder}/{filename}"


def _counts(dataset: Dataset, images_per_split: Mapping[str, int] | None) -> dict[str, int]:
    counts = dict(DEFAULT_IMAGES_PER_SPLIT[dataset] if images_per_split is None else images_per_split)
    valid = [s for s in KARPATHY_SPLITS if dataset == "coco" or s != "restval"]
    for split, n in counts.items():
        if split not in valid:
            raise ValueError(f"{dataset} has no split {split!r}; valid: {', '.join(valid)}")
        if n < 0:
            raise ValueError(f"images_per_split[{split!r}] must be >= 0, got {n}")
    return counts


def write_karpathy(
    root: str | os.PathLike[str],
    dataset: Dataset = "coco",
    images_per_split: Mapping[str, int] | None = None,
    seed: int = 0,
    image_size: int = 32,
) -> KarpathyFiles:
    """Write a synthetic ``dataset_coco.json`` / ``dataset_flickr30k.json`` and its JPEG images under ``root``.

    Records are written split by split in the order of ``images_per_split``; ``imgid`` runs 0, 1, ... in
    file order. Images are consecutive ``id``-domain world samples (world split ``train`` for the Karpathy
    train/restval images, ``eval`` for val/test), so no two coincide; an image's first caption is the
    world's, the others distinct further draws of the world's caption templates for the same image.

    Args:
        root: output folder (created).
        dataset: ``coco`` or ``flickr30k`` layout.
        images_per_split: split -> number of images (default ``DEFAULT_IMAGES_PER_SPLIT[dataset]``).
        seed: seed of images, captions and ids.
        image_size: side of the square images in pixels.

    Returns:
        The JSON path and the image root to read it with.
    """
    if dataset not in DEFAULT_IMAGES_PER_SPLIT:
        raise ValueError(f"unknown Karpathy dataset {dataset!r}; valid: coco, flickr30k")
    counts = _counts(dataset, images_per_split)
    root = Path(root)
    image_root = root if dataset == "coco" else root / "flickr30k-images"
    world = ProceduralWorld(seed, image_size)
    ids = random.Random(seed)
    total = sum(counts.values())
    image_ids = ids.sample(range(1, 581_930), total)  # COCO image ids
    flickr_names = ids.sample(range(10**6, 10**10), total)  # Flickr30k file names
    sent_pool = ids.sample(range(1, 830_000), total * (_SENTENCES + 1))  # COCO caption annotation ids
    images: list[dict] = []
    next_sent, next_world = 0, {"train": 0, "eval": 0}
    for split, n in counts.items():
        world_split = "train" if split in ("train", "restval") else "eval"
        for _ in range(n):
            imgid = len(images)
            sample = world.sample("id", world_split, next_world[world_split])
            next_world[world_split] += 1
            texts = _captions(sample, _SENTENCES + (imgid % _EXTRA_EVERY == _EXTRA_EVERY - 1), seed, imgid)
            if dataset == "coco":
                sent_ids = sorted(sent_pool[next_sent : next_sent + len(texts)])
            else:
                sent_ids = list(range(next_sent, next_sent + len(texts)))
            next_sent += len(texts)
            sentences = [
                {"tokens": tokens(t), "raw": _raw(t, j), "imgid": imgid, "sentid": sid}
                for j, (t, sid) in enumerate(zip(texts, sent_ids, strict=True))
            ]
            record, rel = _record(dataset, split, imgid, sentences, image_ids[imgid], flickr_names[imgid])
            path = image_root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            sample.image.save(path, format="JPEG", quality=90)
            images.append(record)
    json_path = root / f"dataset_{dataset}.json"
    atomic_write_text(json_path, json.dumps({"images": images, "dataset": dataset}))
    return KarpathyFiles(json_path, image_root)
