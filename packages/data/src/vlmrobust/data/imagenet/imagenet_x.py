"""ImageNet-X factor annotations (Idrissi et al., facebookresearch/imagenetx) as per-factor subsets of val.

``imagenet_x_val_{top|multi}_factor.jsonl``: one JSON object per line with ``file_name``
(``ILSVRC2012_val_XXXXXXXX.JPEG``), ``class`` (IN-1k index) and 16 factor columns set to 0 or 1.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
from dataclasses import dataclass

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.imagenet.samples import DatasetFormatError, ImageSet, OnError, Problems, Skip

FACTORS = (
    "multiple_objects", "background", "color", "brighter", "darker", "style", "larger", "smaller",
    "object_blocking", "person_blocking", "partial_view", "pattern", "pose", "shape", "subcategory", "texture",
)  # fmt: skip
_VAL_NAME = re.compile(r"^(ILSVRC2012_val_\d{8})\.JPEG$")


@dataclass(frozen=True)
class ImageNetXAnnotations:
    """Parsed ImageNet-X val annotations.

    Attributes:
        path: the jsonl file.
        classes: sample id (``ILSVRC2012_val_XXXXXXXX``) -> annotated IN-1k class.
        factors: factor name -> sample ids with that factor set.
        skipped: malformed lines skipped under ``on_error="skip"``.
    """

    path: str
    classes: dict[str, int]
    factors: dict[str, frozenset[str]]
    skipped: tuple[Skip, ...] = ()


def read_imagenet_x(
    path: str | os.PathLike[str],
    *,
    prototypes: str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
) -> ImageNetXAnnotations:
    """Parse an ImageNet-X val jsonl file.

    Args:
        path: ``imagenet_x_val_top_factor.jsonl`` or ``imagenet_x_val_multi_factor.jsonl``.
        prototypes: optional ``prototypical_paths.csv`` (header ``file_name``); listed images are dropped,
            as ``imagenet_x.load_annotations(filter_prototypes=True)`` does.
        on_error: ``"raise"`` on the first malformed line, or ``"skip"`` it and report the count at the end.
    """
    problems = Problems(on_error, f"ImageNet-X annotations {path}")
    drop: set[str] = set()
    if prototypes is not None:
        with open(prototypes, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "file_name" not in reader.fieldnames:
                raise DatasetFormatError(
                    f"{prototypes}:1: expected a 'file_name' column, got {reader.fieldnames}"
                )
            drop = {os.path.splitext(row["file_name"])[0] for row in reader}
    classes: dict[str, int] = {}
    members: dict[str, set[str]] = {f: set() for f in FACTORS}
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                problems(where, f"not a JSON object ({err.msg})")
                continue
            error = _check_record(record)
            if error:
                problems(where, error)
                continue
            sample_id = os.path.splitext(record["file_name"])[0]
            if sample_id in classes:
                problems(where, f"duplicate file_name {record['file_name']!r}")
                continue
            if sample_id in drop:
                continue
            classes[sample_id] = record["class"]
            for factor in FACTORS:
                if record[factor]:
                    members[factor].add(sample_id)
    factors = {f: frozenset(ids) for f, ids in members.items()}
    return ImageNetXAnnotations(str(path), classes, factors, problems.finish(len(classes)))


def _check_record(record: object) -> str | None:
    if not isinstance(record, dict):
        return "not a JSON object"
    name = record.get("file_name")
    if not isinstance(name, str) or not _VAL_NAME.match(name):
        return f"file_name {name!r} is not ILSVRC2012_val_XXXXXXXX.JPEG"
    label = record.get("class")
    if type(label) is not int or not 0 <= label < 1000:
        return f"class {label!r} is not an IN-1k index 0..999"
    bad = [f for f in FACTORS if record.get(f) not in (0, 1)]
    return f"factor(s) {bad} missing or not 0/1" if bad else None


def imagenet_x_subsets(
    val: ImageSet, annotations: ImageNetXAnnotations, factors: tuple[str, ...] = FACTORS
) -> dict[str, ImageSet]:
    """Per-factor subsets of ``val``: the val images annotated with each factor.

    Each subset is named ``imagenet-x/<factor>`` and paired with ``val`` (its ``id_set``). For a single-label
    val set, an annotated class that disagrees with the val label is an error (one of them is wrong).

    Raises:
        ValueError: an unknown factor name.
        DatasetFormatError: a class disagreement.
    """
    for factor in factors:
        if factor not in FACTORS:
            raise ValueError(
                f"unknown ImageNet-X factor {factor!r}. {did_you_mean(factor, FACTORS, 'factors')}"
            )
    if not val.multi_label:
        for s in val.samples:
            annotated = annotations.classes.get(s.sample_id)
            if annotated is not None and annotated != s.in1k_labels[0]:
                raise DatasetFormatError(
                    f"{annotations.path}: {s.sample_id} is annotated class {annotated} but {s.path} has label "
                    f"{s.in1k_labels[0]}"
                )
    return {
        factor: dataclasses.replace(
            val,
            name=f"imagenet-x/{factor}",
            samples=tuple(s for s in val.samples if s.sample_id in annotations.factors[factor]),
            id_set=val.name,
        )
        for factor in factors
    }
