"""Readers of ARO's VG-Relation and VG-Attribution files.

Both files (``visual_genome_relation.json``, ``visual_genome_attribution.json``) are JSON arrays of records::

    {"image_path": "2315588.jpg", "bbox_x": 12, "bbox_y": 40, "bbox_w": 300, "bbox_h": 210,
     "relation_name": "eating", "true_caption": "the horse is eating the grass",
     "false_caption": "the grass is eating the horse"}

VG-Attribution records carry ``attributes`` (a list of two strings) instead of ``relation_name``; other keys
are ignored. The image is ``<root>/images/<image_path>`` cropped to the bbox, and the options are
``[false_caption, true_caption]`` in the official order, so the correct one is index 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vlmrobust.data.choice import CaptionChoice, CaptionChoiceDataset, ImageRef
from vlmrobust.data.imagenet.samples import OnError, Problems
from vlmrobust.data.records import JsonRecord, caption_choice_dataset, image_present, load_json_array

VGKind = Literal["relation", "attribution"]

#: VG-Relation relations left out of the macro accuracy (the official notebook's ``symmetric`` list).
# fmt: off
SYMMETRIC_RELATIONS: tuple[str, ...] = (
    "adjusting", "attached to", "between", "bigger than", "biting", "boarding", "brushing", "chewing",
    "cleaning", "climbing", "close to", "coming from", "coming out of", "contain", "crossing", "dragging",
    "draped over", "drinking", "drinking from", "driving", "driving down", "driving on", "eating from",
    "eating in", "enclosing", "exiting", "facing", "filled with", "floating in", "floating on", "flying",
    "flying above", "flying in", "flying over", "flying through", "full of", "going down", "going into",
    "going through", "grazing in", "growing in", "growing on", "guiding", "hanging from", "hanging in",
    "hanging off", "hanging over", "higher than", "holding onto", "hugging", "in between", "jumping off",
    "jumping on", "jumping over", "kept in", "larger than", "leading", "leaning over", "leaving", "licking",
    "longer than", "looking in", "looking into", "looking out", "looking over", "looking through",
    "lying next to", "lying on top of", "making", "mixed with", "mounted on", "moving", "on the back of",
    "on the edge of", "on the front of", "on the other side of", "opening", "painted on", "parked at",
    "parked beside", "parked by", "parked in", "parked in front of", "parked near", "parked next to",
    "perched on", "petting", "piled on", "playing", "playing in", "playing on", "playing with", "pouring",
    "reaching for", "reading", "reflected on", "riding on", "running in", "running on", "running through",
    "seen through", "sitting behind", "sitting beside", "sitting by", "sitting in front of", "sitting near",
    "sitting next to", "sitting under", "skiing down", "skiing on", "sleeping in", "sleeping on",
    "smiling at", "sniffing", "splashing", "sprinkled on", "stacked on", "standing against",
    "standing around", "standing behind", "standing beside", "standing in front of", "standing near",
    "standing next to", "staring at", "stuck in", "surrounding", "swimming in", "swinging", "talking to",
    "topped with", "touching", "traveling down", "traveling on", "tying", "typing on", "underneath",
    "wading in", "waiting for", "walking across", "walking by", "walking down", "walking next to",
    "walking through", "working in", "working on", "worn on", "wrapped around", "wrapped in", "by", "of",
    "near", "next to", "with", "beside", "on the side of", "around",
)
# fmt: on


@dataclass(frozen=True, slots=True)
class VGRecord:
    """One validated VG-Relation / VG-Attribution record.

    Attributes:
        image_path: ``image_path`` as in the file.
        image: ``<root>/images/<image_path>`` with the bbox crop.
        true_caption: the correct caption.
        false_caption: the hard negative.
        key: what the macro accuracy groups by: ``relation_name`` (VG-R) or ``"<a0>_<a1>"`` (VG-A).
    """

    image_path: str
    image: ImageRef
    true_caption: str
    false_caption: str
    key: str


def _vg_record(rec: JsonRecord, images: Path, kind: VGKind) -> VGRecord:
    image_path = rec.text("image_path")
    box = tuple(rec.number(k) for k in ("bbox_x", "bbox_y", "bbox_w", "bbox_h"))
    if kind == "relation":
        key = rec.text("relation_name")
    else:
        attributes = rec.value("attributes", list)
        if len(attributes) != 2 or not all(isinstance(a, str) for a in attributes):
            raise rec.fail(f"key 'attributes' must be a list of 2 strings, got {attributes!r:.60}")
        key = f"{attributes[0]}_{attributes[1]}"
    image = ImageRef(images / image_path, box)  # type: ignore[arg-type]
    return VGRecord(image_path, image, rec.text("true_caption"), rec.text("false_caption"), key)


def parse_vg(json_path: str | os.PathLike[str], root: str | os.PathLike[str], kind: VGKind) -> list[VGRecord]:
    """Validate every record of a VG-Relation / VG-Attribution file (image files are not checked).

    Args:
        json_path: the JSON file.
        root: the folder holding ``images/``.
        kind: ``relation`` (records carry ``relation_name``) or ``attribution`` (``attributes``).

    Raises:
        DatasetFormatError: a malformed file or record (missing key, non-numeric bbox, bad ``attributes``,
            empty caption); the message names the file and the record index.
    """
    images = Path(root) / "images"
    return [
        _vg_record(JsonRecord(json_path, i, raw), images, kind)
        for i, raw in enumerate(load_json_array(json_path))
    ]


def _read_vg(
    json_path: str | os.PathLike[str], root: str | os.PathLike[str], kind: VGKind, on_missing: OnError
) -> CaptionChoiceDataset:
    what = "VG-Relation" if kind == "relation" else "VG-Attribution"
    problems = Problems(on_missing, f"ARO {what} {json_path}")
    meta_key = "relation" if kind == "relation" else "attributes"
    records = [
        CaptionChoice(
            f"{i:05d}-{r.image_path}", r.image, (r.false_caption, r.true_caption), 1, {meta_key: r.key}
        )
        for i, r in enumerate(parse_vg(json_path, root, kind))
        if image_present(r.image.path, problems, f"record {i} of {json_path}")
    ]
    return caption_choice_dataset(f"aro-vg-{kind}", f"aro-{kind}", 2, records, problems)


def read_vg_relation(
    json_path: str | os.PathLike[str], root: str | os.PathLike[str], on_missing: OnError = "raise"
) -> CaptionChoiceDataset:
    """Read ARO VG-Relation: options ``(false_caption, true_caption)``, answer 1, meta ``{"relation": ...}``.

    Sample ids are ``f"{position:05d}-{image_path}"`` (an image holds several relations).

    Args:
        json_path: ``visual_genome_relation.json``.
        root: the folder holding ``images/`` (the official ``root_dir``).
        on_missing: a missing image file: ``raise``, or ``skip`` it (counted in the set's ``skipped``).

    Raises:
        DatasetFormatError: a malformed record (the message names the file and index), or a missing image
            under ``on_missing="raise"`` (the message names the image and the record).
    """
    return _read_vg(json_path, root, "relation", on_missing)


def read_vg_attribution(
    json_path: str | os.PathLike[str], root: str | os.PathLike[str], on_missing: OnError = "raise"
) -> CaptionChoiceDataset:
    """Read ARO VG-Attribution: options ``(false_caption, true_caption)``, answer 1, meta ``{"attributes": "a0_a1"}``.

    Sample ids are ``f"{position:05d}-{image_path}"``.

    Args:
        json_path: ``visual_genome_attribution.json``.
        root: the folder holding ``images/`` (the official ``root_dir``).
        on_missing: a missing image file: ``raise``, or ``skip`` it (counted in the set's ``skipped``).

    Raises:
        DatasetFormatError: a malformed record (the message names the file and index), or a missing image
            under ``on_missing="raise"`` (the message names the image and the record).
    """
    return _read_vg(json_path, root, "attribution", on_missing)
