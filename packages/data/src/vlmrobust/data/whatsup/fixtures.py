"""Writers of small synthetic What'sUp files in the official layout, with JPEG images.

* Controlled_Images A/B: ``<root>/controlled_images_dataset.json`` + ``<root>/controlled_images/`` (A) or
  ``<root>/controlled_clevr_dataset.json`` + ``<root>/controlled_clevr/`` (B); for every object pair the four
  relations in ``SUBSET_RELATIONS`` order, ``image_path`` = ``data/<folder>/<obj1>_<rel>_<obj2>.jpeg``,
  captions ``"A {obj1} {preposition} a {obj2}"`` (hyphens read as spaces), the correct one first and the
  others in ``SUBSET_RELATIONS`` order.
* COCO-/GQA-spatial: ``<root>/<SPATIAL_FILES[source, objects]>`` + ``<root>/val2017/`` or ``<root>/vg_images/``;
  records ``[image_id, correct, wrong]`` cycling through hand-written captions, two consecutive records on one
  image (ids repeat, as in the real files); COCO ids are ints, GQA ids strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vlmrobust.core.atomic import atomic_write_text
from vlmrobust.data.aro.fixtures import write_jpeg
from vlmrobust.data.whatsup.reader import (
    CONTROLLED_FILES,
    SPATIAL_FILES,
    SPATIAL_IMAGE_DIRS,
    SUBSET_RELATIONS,
    SpatialObjects,
    SpatialSource,
)

#: Default object pairs (real What'sUp objects; multi-word ones hyphenated as in the file names).
DEFAULT_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "A": (("beer-bottle", "armchair"), ("water-filter", "table"), ("mug", "chair")),
    "B": (("remote", "book"), ("sunglasses", "candle"), ("cereal-box", "plate")),
}
_FILE_TOKEN = {"on": "on", "under": "under", "left": "left_of", "right": "right_of",
               "in-front": "in-front_of", "behind": "behind"}  # fmt: skip
_PHRASE = {"on": "on", "under": "under", "left": "to the left of", "right": "to the right of",
           "in-front": "in front of", "behind": "behind"}  # fmt: skip
#: (correct, wrong) captions of each spatial set, cycled through by the records.
SPATIAL_EXAMPLES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("coco", "one"): (
        ("A photo of a dining table on the bottom", "A photo of a dining table on the top"),
        ("A photo of a dog on the left", "A photo of a dog on the right"),
        ("A photo of a kite on the top", "A photo of a kite on the bottom"),
        ("A photo of a cat on the right", "A photo of a cat on the left"),
    ),
    ("coco", "two"): (
        (
            "A photo of a dining table to the left of a refrigerator",
            "A photo of a dining table to the right of a refrigerator",
        ),
        ("A photo of a cup to the right of a bowl", "A photo of a cup to the left of a bowl"),
        ("A photo of a lamp above a bed", "A photo of a lamp below a bed"),
        ("A photo of a dog below a table", "A photo of a dog above a table"),
    ),
    ("gqa", "one"): (
        ("A photo of a car on the left", "A photo of a car on the right"),
        ("A photo of a man on the bottom", "A photo of a man on the top"),
        ("A photo of a sign on the top", "A photo of a sign on the bottom"),
        ("A photo of a bus on the right", "A photo of a bus on the left"),
    ),
    ("gqa", "two"): (
        ("A photo of a man to the left of a horse", "A photo of a man to the right of a horse"),
        ("A photo of a car in front of a building", "A photo of a car behind a building"),
        ("A photo of a tree behind a fence", "A photo of a tree in front of a fence"),
        ("A photo of a lamp above a table", "A photo of a lamp below a table"),
    ),
}
_FIRST_ID = {"coco": 397133, "gqa": 2354786}


@dataclass(frozen=True)
class WhatsUpFiles:
    """Paths of a written synthetic set: pass them to ``read_whatsup`` / ``read_spatial``."""

    json_path: Path
    image_root: Path


def _caption(first: str, relation: str, second: str) -> str:
    return f"A {first.replace('-', ' ')} {_PHRASE[relation]} a {second.replace('-', ' ')}"


def write_whatsup(
    root: str | os.PathLike[str],
    subset: Literal["A", "B"] = "A",
    pairs: Sequence[tuple[str, str]] | None = None,
    image_size: int = 24,
) -> WhatsUpFiles:
    """Write a synthetic Controlled_Images subset: four records (one per relation) for each object pair.

    Args:
        root: output folder (created); the JSON lies in it, the images in its ``CONTROLLED_FILES`` folder.
        subset: ``A`` (on, under, left, right) or ``B`` (in-front, behind, left, right).
        pairs: ``(obj1, obj2)`` names, hyphenated when multi-word (default ``DEFAULT_PAIRS[subset]``).
        image_size: side of the square images in pixels; image ``k`` (file order) has blue level set by ``k``.

    Returns:
        The JSON path and the image folder.
    """
    if subset not in DEFAULT_PAIRS:
        raise ValueError(f"write_whatsup writes subset A or B, got {subset!r}")
    json_name, folder = CONTROLLED_FILES[subset]
    image_root = Path(root) / folder
    relations = SUBSET_RELATIONS[subset]
    records = []
    for first, second in DEFAULT_PAIRS[subset] if pairs is None else pairs:
        for relation in relations:
            name = f"{first}_{_FILE_TOKEN[relation]}_{second}.jpeg"
            write_jpeg(image_root / name, image_size, image_size, len(records))
            order = [relation] + [r for r in relations if r != relation]
            records.append({"image_path": f"data/{folder}/{name}",
                            "caption_options": [_caption(first, r, second) for r in order]})  # fmt: skip
    return WhatsUpFiles(atomic_write_text(Path(root) / json_name, json.dumps(records)), image_root)


def write_spatial(
    root: str | os.PathLike[str],
    source: SpatialSource = "coco",
    objects: SpatialObjects = "one",
    n: int = 4,
    image_size: int = 24,
) -> WhatsUpFiles:
    """Write a synthetic COCO-/GQA-spatial file of ``n`` records and its images.

    Args:
        root: output folder (created); the JSON and the image folder lie in it.
        source: ``coco`` (int ids, ``val2017/<id:012d>.jpg``) or ``gqa`` (string ids, ``vg_images/<id>.jpg``).
        objects: ``one`` or ``two``; record ``i`` uses ``SPATIAL_EXAMPLES[source, objects][i % 4]``.
        n: number of records; records ``2j`` and ``2j + 1`` share an image.
        image_size: side of the square images in pixels.

    Returns:
        The JSON path and the image root (``root``).
    """
    if (source, objects) not in SPATIAL_FILES:
        raise ValueError(
            f"unknown spatial set ({source!r}, {objects!r}); source: coco, gqa; objects: one, two"
        )
    root = Path(root)
    examples = SPATIAL_EXAMPLES[source, objects]
    records = []
    for i in range(n):
        number = _FIRST_ID[source] + i // 2
        name = f"{number:012d}.jpg" if source == "coco" else f"{number}.jpg"
        if i % 2 == 0:
            write_jpeg(root / SPATIAL_IMAGE_DIRS[source] / name, image_size, image_size, i // 2)
        correct, wrong = examples[i % len(examples)]
        records.append([number if source == "coco" else str(number), correct, wrong])
    return WhatsUpFiles(atomic_write_text(root / SPATIAL_FILES[source, objects], json.dumps(records)), root)
