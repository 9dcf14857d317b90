"""Writers of small synthetic VG-Relation / VG-Attribution files in the official layout, with JPEG images.

``<root>/visual_genome_relation.json``, ``<root>/visual_genome_attribution.json`` and ``<root>/images/``.
Records cycle through hand-written examples in the style of the real files (multi-word and symmetric
relations, ``image_id`` as an extra key); two consecutive records share an image, as several relations of one
Visual Genome image do, and every record has its own crop box inside the image.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vlmrobust.core.atomic import atomic_write_text

#: (relation_name, true_caption, false_caption) examples of VG-Relation.
RELATION_EXAMPLES: tuple[tuple[str, str, str], ...] = (
    ("eating", "the horse is eating the grass", "the grass is eating the horse"),
    ("sitting on", "the man is sitting on the bench", "the bench is sitting on the man"),
    ("next to", "the cup is next to the plate", "the plate is next to the cup"),
    ("on", "the book is on the table", "the table is on the book"),
)
#: (attributes, true_caption, false_caption) examples of VG-Attribution.
ATTRIBUTE_EXAMPLES: tuple[tuple[tuple[str, str], str, str], ...] = (
    (("paved", "white"), "the paved road and the white house", "the white road and the paved house"),
    (("wooden", "red"), "the wooden table and the red chair", "the red table and the wooden chair"),
    (("green", "metal"), "the green tree and the metal fence", "the metal tree and the green fence"),
)
_FIRST_IMAGE_ID = 2315588  # a Visual Genome-like image id


def write_jpeg(path: str | os.PathLike[str], width: int, height: int, k: int) -> Path:
    """Write a small RGB JPEG: red rises left to right, green top to bottom, blue is set by ``k``.

    Args:
        path: the file (its folder is created).
        width: image width in pixels.
        height: image height in pixels.
        k: picks the blue level, so images written with different ``k`` differ.
    """
    x = np.linspace(0, 255, width, dtype=np.float64)[None, :].repeat(height, 0)  # [H, W]
    y = np.linspace(0, 255, height, dtype=np.float64)[:, None].repeat(width, 1)  # [H, W]
    blue = np.full((height, width), (40 + 53 * k) % 256, dtype=np.float64)
    pixels = np.stack([x, y, blue], axis=-1).astype(np.uint8)  # [H, W, 3]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=95)
    return path


def vg_box(i: int, image_size: int) -> dict[str, int]:
    """The crop box of synthetic record ``i`` (inside an ``image_size`` x ``3/4 image_size`` image)."""
    return {
        "bbox_x": i % 4,
        "bbox_y": i % 3,
        "bbox_w": image_size // 2 + i % 5,
        "bbox_h": image_size // 3 + i % 2,
    }


def _write(root: Path, file_name: str, records: list[dict[str, Any]], image_size: int) -> Path:
    for name in dict.fromkeys(r["image_path"] for r in records):
        write_jpeg(root / "images" / name, image_size, image_size * 3 // 4, int(Path(name).stem))
    return atomic_write_text(root / file_name, json.dumps(records))


def _image(i: int) -> tuple[int, str]:
    image_id = _FIRST_IMAGE_ID + i // 2
    return image_id, f"{image_id}.jpg"


def write_vg_relation(root: str | os.PathLike[str], n: int = 4, image_size: int = 32) -> Path:
    """Write ``<root>/visual_genome_relation.json`` (``n`` records) and its images under ``<root>/images/``.

    Args:
        root: output folder (created).
        n: number of records; record ``i`` is ``RELATION_EXAMPLES[i % 4]``.
        image_size: image width in pixels (height is 3/4 of it).

    Returns:
        The JSON path.
    """
    records = []
    for i in range(n):
        relation, true, false = RELATION_EXAMPLES[i % len(RELATION_EXAMPLES)]
        image_id, name = _image(i)
        records.append({"image_id": image_id, "relation_name": relation, "true_caption": true,
                        "false_caption": false, "image_path": name, **vg_box(i, image_size)})  # fmt: skip
    return _write(Path(root), "visual_genome_relation.json", records, image_size)


def write_vg_attribution(root: str | os.PathLike[str], n: int = 3, image_size: int = 32) -> Path:
    """Write ``<root>/visual_genome_attribution.json`` (``n`` records) and its images under ``<root>/images/``.

    Args:
        root: output folder (created).
        n: number of records; record ``i`` is ``ATTRIBUTE_EXAMPLES[i % 3]``.
        image_size: image width in pixels (height is 3/4 of it).

    Returns:
        The JSON path.
    """
    records = []
    for i in range(n):
        attributes, true, false = ATTRIBUTE_EXAMPLES[i % len(ATTRIBUTE_EXAMPLES)]
        image_id, name = _image(i)
        records.append({"image_id": image_id, "attributes": list(attributes), "true_caption": true,
                        "false_caption": false, "image_path": name, **vg_box(i, image_size)})  # fmt: skip
    return _write(Path(root), "visual_genome_attribution.json", records, image_size)
