"""The procedural world written as What'sUp and ARO files, so the official-format readers serve it.

* ``write_world_whatsup``: a Controlled_Images-style subset (``whatsup-world``): for each object pair (two
  shapes with fixed colours) the four relations of ``RELATIONS``, read by ``read_whatsup(..., "world")``.
* ``write_world_aro``: VG-Relation and VG-Attribution files over the world's eval scenes
  (``ProceduralWorld.scene("eval", i)``), read by ``read_vg_relation`` / ``read_vg_attribution``.

Both are pure functions of the seed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vlmrobust.core.atomic import atomic_write_text
from vlmrobust.data.whatsup.reader import CONTROLLED_FILES
from vlmrobust.data.world.classes import CLASS_NAMES, COLOURS
from vlmrobust.data.world.generator import ProceduralWorld
from vlmrobust.data.world.scenes import RELATIONS, SceneObject, generate_scene

#: Stable id of the What'sUp scene stream (disjoint from the domain ids and ``SCENES_ID``; never reuse).
WHATSUP_ID = 101
#: The file-name token of each relation (``<obj1>_<token>_<obj2>.jpeg``).
RELATION_TOKENS: dict[str, str] = {
    "left of": "left_of",
    "right of": "right_of",
    "above": "above",
    "below": "below",
}
_JPEG_QUALITY = 95


class WorldAroFiles(NamedTuple):
    """The written ARO files; their folder (holding ``images/``) is the ``root`` to read them with."""

    relation: Path
    attribution: Path


def _token(obj: SceneObject) -> str:
    return f"{obj.colour}-{obj.shape}"


def object_pairs(seed: int, pairs: int) -> list[tuple[SceneObject, SceneObject]]:
    """``pairs`` distinct object pairs (two shapes, two colours), a pure function of ``seed``.

    Args:
        seed: world seed.
        pairs: number of pairs (at most the number of distinct ordered pairs).
    """
    k, c = len(CLASS_NAMES), len(COLOURS)
    if not 1 <= pairs <= k * (k - 1) * c * (c - 1):
        raise ValueError(f"pairs must be in [1, {k * (k - 1) * c * (c - 1)}], got {pairs}")
    rng = np.random.default_rng(
        [seed, WHATSUP_ID]
    )  # shorter than the per-sample seeds, so a stream of its own
    colours = list(COLOURS)
    chosen: dict[tuple[str, str], tuple[SceneObject, SceneObject]] = {}
    while len(chosen) < pairs:
        ia, ib = rng.permutation(k)[:2]
        ca, cb = rng.permutation(c)[:2]
        first, second = SceneObject(CLASS_NAMES[ia], colours[ca]), SceneObject(CLASS_NAMES[ib], colours[cb])
        chosen.setdefault((_token(first), _token(second)), (first, second))
    return list(chosen.values())


def write_world_whatsup(root: str | os.PathLike[str], seed: int, pairs: int, image_size: int = 64) -> Path:
    """Write ``<root>/controlled_world_dataset.json`` and ``<root>/controlled_world/*.jpeg``.

    Object pair ``p`` is rendered in each relation ``r`` of ``RELATIONS`` (scene ``4p + r`` of the What'sUp
    stream), file ``<colour>-<shape>_<token>_<colour>-<shape>.jpeg`` (tokens ``RELATION_TOKENS``), record
    ``{"image_path": "data/controlled_world/<file>", "caption_options": scene.relation_options}`` (the gold
    caption first, then the other relations in ``RELATIONS`` order).

    Args:
        root: output folder (created); read with ``read_whatsup(json, <root>/controlled_world, "world")``.
        seed: world seed.
        pairs: number of object pairs (4 records each).
        image_size: side of the square images in pixels.

    Returns:
        The JSON path.
    """
    json_name, folder = CONTROLLED_FILES["world"]
    world = ProceduralWorld(seed, image_size)
    images = Path(root) / folder
    images.mkdir(parents=True, exist_ok=True)
    records = []
    for p, (first, second) in enumerate(object_pairs(seed, pairs)):
        for r, relation in enumerate(RELATIONS):
            rng = world.rng(WHATSUP_ID, "eval", len(RELATIONS) * p + r)
            scene = generate_scene(rng, image_size, first=first, second=second, relation=relation)
            name = f"{_token(first)}_{RELATION_TOKENS[relation]}_{_token(second)}.jpeg"
            scene.image.save(images / name, format="JPEG", quality=_JPEG_QUALITY)
            records.append({"image_path": f"data/{folder}/{name}", "caption_options": scene.relation_options})
    return atomic_write_text(Path(root) / json_name, json.dumps(records))


def write_world_aro(root: str | os.PathLike[str], seed: int, n: int, image_size: int = 64) -> WorldAroFiles:
    """Write ``visual_genome_relation.json``, ``visual_genome_attribution.json`` and ``images/`` under ``root``.

    Record ``i`` of both files is world eval scene ``i`` (``images/world_<i:05d>.jpg``, bbox = the whole
    image). VG-Relation: true = the relation caption, false = the objects swapped, ``relation_name`` = the
    relation phrase (``"to the left of"``). VG-Attribution: ``attributes`` = the two colours, true = the
    attribute caption, false = the colours swapped.

    Args:
        root: output folder (created), the ``root`` of the ARO readers.
        seed: world seed.
        n: number of scenes (records per file).
        image_size: side of the square images in pixels.

    Returns:
        The two JSON paths.
    """
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    world = ProceduralWorld(seed, image_size)
    relation, attribution = [], []
    for i in range(n):
        scene = world.scene("eval", i)
        name = f"world_{i:05d}.jpg"
        scene.image.save(root / "images" / name, format="JPEG", quality=_JPEG_QUALITY)
        common = {"image_id": i, "image_path": name, "bbox_x": 0, "bbox_y": 0, "bbox_w": image_size,
                  "bbox_h": image_size}  # fmt: skip
        relation.append({**common, "relation_name": scene.relation_phrase, "true_caption": scene.relation_caption(),
                         "false_caption": scene.swapped_objects})  # fmt: skip
        attribution.append({**common, "attributes": [scene.first.colour, scene.second.colour],
                            "true_caption": scene.attribute_caption, "false_caption": scene.attribute_negative})  # fmt: skip
    return WorldAroFiles(
        atomic_write_text(root / "visual_genome_relation.json", json.dumps(relation)),
        atomic_write_text(root / "visual_genome_attribution.json", json.dumps(attribution)),
    )
