"""Readers of What'sUp (Kamath et al., EMNLP 2023): Controlled_Images A/B (and the world's twin) and COCO/GQA-spatial.

**Controlled_Images** (``controlled_images_dataset.json``, ``controlled_clevr_dataset.json``): a JSON array of
``{"image_path": "data/controlled_images/beer-bottle_on_armchair.jpeg", "caption_options": [4 captions]}``,
the correct caption first. ``image_path`` is relative to the official repository and is not used as is: the
image is ``<image_root>/<file name of image_path>`` (every folder of ``image_path`` is dropped, so
``image_root`` is the folder holding the images, e.g. ``<data>/controlled_images``). The file name is
``<obj1>_<rel>_<obj2>.jpeg`` (``rel`` one of ``on``, ``under``, ``left_of``, ``right_of`` for A,
``in-front_of``, ``behind``, ``left_of``, ``right_of`` for B); as in the official ``evaluate_scores`` the
relation is its second ``_`` token (``left_of`` -> ``left``) and the object pair is (first token, last
token without its extension), so hyphenated objects (``beer-bottle``) stay whole.

**COCO-/GQA-spatial** (``coco_qa_one_obj.json``, ``coco_qa_two_obj.json``, ``vg_qa_one_obj.json``,
``vg_qa_two_obj.json``): a JSON array of ``[image_id, correct_caption, wrong_caption]``; the image is
``<image_root>/val2017/<id zero-padded to 12>.jpg`` (COCO) or ``<image_root>/vg_images/<id>.jpg`` (GQA).
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.choice import CaptionChoice, CaptionChoiceDataset, ImageRef
from vlmrobust.data.imagenet.samples import DatasetFormatError, OnError, Problems
from vlmrobust.data.records import JsonRecord, caption_choice_dataset, image_present, load_json_array

Subset = Literal["A", "B", "world"]
SpatialSource = Literal["coco", "gqa"]
SpatialObjects = Literal["one", "two"]

#: (JSON file, image folder) of each Controlled_Images subset under the data root.
CONTROLLED_FILES: dict[str, tuple[str, str]] = {
    "A": ("controlled_images_dataset.json", "controlled_images"),
    "B": ("controlled_clevr_dataset.json", "controlled_clevr"),
    "world": ("controlled_world_dataset.json", "controlled_world"),
}
#: The relations (second ``_`` token of the file name) of each subset.
SUBSET_RELATIONS: dict[str, tuple[str, ...]] = {
    "A": ("on", "under", "left", "right"),
    "B": ("in-front", "behind", "left", "right"),
    "world": ("above", "below", "left", "right"),
}
#: The relation with the opposite preposition (the 2-way variant's negative).
OPPOSITE: dict[str, str] = {
    "left": "right",
    "right": "left",
    "on": "under",
    "under": "on",
    "in-front": "behind",
    "behind": "in-front",
    "above": "below",
    "below": "above",
}
#: The word that marks each relation in a caption (the official word set, plus above/below).
PREPOSITION_WORD: dict[str, str] = {**{r: r for r in OPPOSITE}, "in-front": "front"}
#: JSON file of each COCO-/GQA-spatial set under the data root.
SPATIAL_FILES: dict[tuple[str, str], str] = {
    ("coco", "one"): "coco_qa_one_obj.json",
    ("coco", "two"): "coco_qa_two_obj.json",
    ("gqa", "one"): "vg_qa_one_obj.json",
    ("gqa", "two"): "vg_qa_two_obj.json",
}
#: Image folder of each spatial source under the image root.
SPATIAL_IMAGE_DIRS: dict[str, str] = {"coco": "val2017", "gqa": "vg_images"}
#: Official two-object preposition labels: (phrase found in the correct caption, label), then the fallback.
_TWO_OBJECT_RULES: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "coco": ((("left of", "left"), ("right of", "right"), ("above", "above")), "below"),
    "gqa": ((("left of", "left"), ("right of", "right"), ("front of", "front"), ("behind", "behind")), "top"),
}


def object_pair(file_name: str) -> tuple[str, str, str]:
    """``(obj1, relation, obj2)`` of a Controlled_Images file name, by the official rule.

    ``"beer-bottle_left_of_armchair.jpeg"`` -> ``("beer-bottle", "left", "armchair")``: the first, second
    and last ``_`` tokens, the last without its extension (the official ``[:-5]`` for ``.jpeg``).

    Raises:
        ValueError: the name has fewer than three ``_`` tokens.
    """
    tokens = file_name.split("_")
    if len(tokens) < 3:
        raise ValueError(f"file name {file_name!r} is not <obj1>_<relation>_<obj2>.<ext>")
    return tokens[0], tokens[1], os.path.splitext(tokens[-1])[0]


def _opposite_index(rec: JsonRecord, options: list[str], relation: str) -> int:
    """Position of the one caption with the opposite preposition (a whole word; never the gold caption)."""
    word = PREPOSITION_WORD[OPPOSITE[relation]]
    hits = [j for j, text in enumerate(options) if re.search(rf"\b{re.escape(word)}\b", text)]
    if len(hits) != 1:
        raise rec.fail(f"expected exactly one caption with the opposite preposition {word!r} (relation "
                       f"{relation!r}), found {len(hits)}: {options}")  # fmt: skip
    if hits[0] == 0:
        raise rec.fail(f"the correct caption {options[0]!r} has the opposite preposition {word!r} of the file "
                       f"name's relation {relation!r}")  # fmt: skip
    return hits[0]


def _controlled_record(rec: JsonRecord, subset: Subset) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """(file name, caption options, meta) of one Controlled_Images record."""
    file_name = PurePosixPath(rec.text("image_path")).name
    options = rec.value("caption_options", list)
    if len(options) != 4 or not all(isinstance(t, str) and t.strip() for t in options):
        raise rec.fail(f"key 'caption_options' must be 4 non-empty strings, got {options!r:.120}")
    try:
        first, relation, second = object_pair(file_name)
    except ValueError as err:
        raise rec.fail(str(err)) from None
    valid = SUBSET_RELATIONS[subset]
    if relation not in valid:
        raise rec.fail(f"unknown relation {relation!r} in file name {file_name!r} for subset {subset}. "
                       f"{did_you_mean(relation, valid, 'relations')}")  # fmt: skip
    meta = {
        "group": f"{first}|{second}",
        "relation": relation,
        "opposite": _opposite_index(rec, options, relation),
    }
    return file_name, tuple(options), meta


def read_whatsup(
    json_path: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    subset: Subset,
    on_missing: OnError = "raise",
) -> CaptionChoiceDataset:
    """Read a Controlled_Images subset: 4 options, answer 0, meta ``group``, ``relation`` and ``opposite``.

    ``meta["group"]`` is ``"<obj1>|<obj2>"``, ``meta["relation"]`` the file name's relation and
    ``meta["opposite"]`` the position of the caption with the opposite preposition. The sample id is the
    image file name; a repeated one gets ``#2``, ``#3`` ... (both records are kept; the official grouping
    lets the later one overwrite, which the metrics reproduce).

    Args:
        json_path: ``controlled_images_dataset.json`` (A), ``controlled_clevr_dataset.json`` (B) or
            ``controlled_world_dataset.json`` (world).
        image_root: the folder holding the images (``image_path`` keeps only its file name).
        subset: ``A``, ``B`` or ``world``: which relations are valid and the set's name.
        on_missing: a missing image file: ``raise``, or ``skip`` it (counted in the set's ``skipped``).

    Raises:
        DatasetFormatError: a malformed record (missing or mistyped key, not 4 options, unknown relation, no
            single opposite caption); the message names the file and record index. A missing image under
            ``on_missing="raise"`` (the message names the image and the record).
        ValueError: an unknown ``subset``.
    """
    if subset not in SUBSET_RELATIONS:
        raise ValueError(
            f"unknown What'sUp subset {subset!r}. {did_you_mean(subset, SUBSET_RELATIONS, 'subsets')}"
        )
    problems = Problems(on_missing, f"What'sUp {subset} {json_path}")
    root, records, seen = Path(image_root), [], {}
    for i, raw in enumerate(load_json_array(json_path)):
        file_name, options, meta = _controlled_record(JsonRecord(json_path, i, raw), subset)
        seen[file_name] = seen.get(file_name, 0) + 1
        sample_id = file_name if seen[file_name] == 1 else f"{file_name}#{seen[file_name]}"
        image = ImageRef(root / file_name)
        if image_present(image.path, problems, f"record {i} of {json_path}"):
            records.append(CaptionChoice(sample_id, image, options, 0, meta))
    return caption_choice_dataset(f"whatsup-{subset.lower()}", "whatsup", 4, records, problems)


def spatial_relation(source: SpatialSource, objects: SpatialObjects, caption: str) -> str:
    """The official preposition label of a correct spatial caption.

    One object: its last word. Two objects, COCO: ``left`` / ``right`` / ``above`` / else ``below``; GQA:
    ``left`` / ``right`` / ``front`` / ``behind`` / else ``top`` (so GQA's few ``above`` captions are ``top``).
    """
    if objects == "one":
        return caption.split()[-1]
    rules, fallback = _TWO_OBJECT_RULES[source]
    return next((label for phrase, label in rules if phrase in caption), fallback)


def _spatial_record(path: str | os.PathLike[str], i: int, raw: Any) -> tuple[int | str, str, str]:
    if not isinstance(raw, list) or len(raw) != 3:
        raise DatasetFormatError(f"{path}: record {i}: expected [image_id, correct_caption, wrong_caption], "
                                 f"got {raw!r:.80}")  # fmt: skip
    image_id, correct, wrong = raw
    if isinstance(image_id, bool) or not isinstance(image_id, int | str) or not str(image_id).strip():
        raise DatasetFormatError(
            f"{path}: record {i}: image_id must be an int or a non-empty string, got {image_id!r}"
        )
    for what, text in (("correct", correct), ("wrong", wrong)):
        if not isinstance(text, str) or not text.strip():
            raise DatasetFormatError(
                f"{path}: record {i}: the {what} caption must be a non-empty string, got {text!r}"
            )
    return image_id, correct, wrong


def read_spatial(
    json_path: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    source: SpatialSource,
    objects: SpatialObjects,
    on_missing: OnError = "raise",
) -> CaptionChoiceDataset:
    """Read COCO-/GQA-spatial: 2 options (correct, wrong), answer 0, meta ``{"relation": label}``.

    The relation label follows the official rules (:func:`spatial_relation`). Image ids repeat across
    records, so the sample id is ``f"{position:05d}-{image_id}"``.

    Args:
        json_path: ``coco_qa_one_obj.json``, ``coco_qa_two_obj.json``, ``vg_qa_one_obj.json`` or
            ``vg_qa_two_obj.json``.
        image_root: the folder holding ``val2017/`` (COCO) or ``vg_images/`` (GQA).
        source: ``coco`` or ``gqa``.
        objects: ``one`` or ``two`` (objects named per caption).
        on_missing: a missing image file: ``raise``, or ``skip`` it (counted in the set's ``skipped``).

    Raises:
        DatasetFormatError: a malformed record (the message names the file and record index), or a missing
            image under ``on_missing="raise"``.
        ValueError: an unknown ``source`` or ``objects``.
    """
    if (source, objects) not in SPATIAL_FILES:
        raise ValueError(
            f"unknown spatial set ({source!r}, {objects!r}); source: coco, gqa; objects: one, two"
        )
    problems = Problems(on_missing, f"{source}-spatial {objects} {json_path}")
    folder = Path(image_root) / SPATIAL_IMAGE_DIRS[source]
    records = []
    for i, raw in enumerate(load_json_array(json_path)):
        image_id, correct, wrong = _spatial_record(json_path, i, raw)
        name = f"{str(image_id).zfill(12)}.jpg" if source == "coco" else f"{image_id}.jpg"
        image = ImageRef(folder / name)
        if image_present(image.path, problems, f"record {i} of {json_path}"):
            meta = {"relation": spatial_relation(source, objects, correct)}
            records.append(CaptionChoice(f"{i:05d}-{image_id}", image, (correct, wrong), 0, meta))
    return caption_choice_dataset(f"{source}-spatial-{objects}", "spatial", 2, records, problems)
