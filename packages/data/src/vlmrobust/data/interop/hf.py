"""Hugging Face ``datasets`` conversion of eval sets and MCQ benchmarks (both directions).

Eval sets become one row per image with an ``image`` column of type ``datasets.Image`` (stored as the
file path, decoded lazily) plus ``sample_id``, ``label``, ``labels``, ``in1k_labels``, ``official`` (null when ``labels`` are the
official label); the class names
and set name go to ``Dataset.info.description`` as JSON. MCQ benchmarks become one row per question
with the benchmark file's columns.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import datasets

from vlmrobust.data.imagenet.samples import ClassSubset, ImageSet, Sample, Skip
from vlmrobust.data.mcq.builder import Question
from vlmrobust.data.mcq.io import _question


def image_set_to_hf(image_set: ImageSet) -> datasets.Dataset:
    """An eval set as a ``datasets.Dataset`` (images referenced by path, decoded on access)."""
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "sample_id": datasets.Value("string"),
            "label": datasets.Value("int64"),
            "labels": datasets.Sequence(datasets.Value("int64")),
            "in1k_labels": datasets.Sequence(datasets.Value("int64")),
            "official": datasets.Value("int64"),
        }
    )
    data = {
        "image": [s.path for s in image_set],
        "sample_id": [s.sample_id for s in image_set],
        "label": [s.label for s in image_set],
        "labels": [list(s.labels) for s in image_set],
        "in1k_labels": [list(s.in1k_labels) for s in image_set],
        "official": [s.official for s in image_set],
    }
    meta = {
        "eval_set": image_set.name, "subset": image_set.classes.name, "class_names": list(image_set.classes.names),
        "in1k_groups": [list(g) for g in image_set.classes.in1k_groups], "id_set": image_set.id_set,
        "multi_label": image_set.multi_label, "border_crop": image_set.border_crop, "root": image_set.root,
        "excluded": image_set.excluded, "skipped": [[k.path, k.reason] for k in image_set.skipped],
    }  # fmt: skip
    info = datasets.DatasetInfo(description=json.dumps(meta), features=features)
    return datasets.Dataset.from_dict(data, features=features, info=info)


def image_set_from_hf(dataset: datasets.Dataset) -> ImageSet:
    """The ``ImageSet`` of a dataset made by :func:`image_set_to_hf` (images must still be paths)."""
    try:
        meta = json.loads(dataset.info.description or "")
    except json.JSONDecodeError:
        raise ValueError("dataset.info.description holds no vlmrobust eval-set metadata (JSON)") from None
    classes = ClassSubset(
        meta["subset"], tuple(tuple(g) for g in meta["in1k_groups"]), tuple(meta["class_names"])
    )
    plain = dataset.cast_column("image", datasets.Image(decode=False))
    samples = []
    for i, row in enumerate(plain):
        if not row["image"].get("path"):
            raise ValueError(
                f"row {i} ({row['sample_id']}): image has no path (embedded bytes cannot be indexed)"
            )
        samples.append(
            Sample(
                row["sample_id"],
                row["image"]["path"],
                tuple(row["labels"]),
                tuple(row["in1k_labels"]),
                official=row.get("official"),
            )
        )
    return ImageSet(
        name=meta["eval_set"],
        root=meta["root"],
        samples=tuple(samples),
        classes=classes,
        id_set=meta["id_set"],
        multi_label=meta["multi_label"],
        border_crop=meta["border_crop"],
        skipped=tuple(Skip(path, reason) for path, reason in meta["skipped"]),
        excluded=meta["excluded"],
    )


def questions_to_hf(questions: Sequence[Question]) -> datasets.Dataset:
    """MCQ questions as a ``datasets.Dataset`` with the benchmark file's columns."""
    return datasets.Dataset.from_list([dataclasses.asdict(q) for q in questions])


def questions_from_hf(dataset: datasets.Dataset) -> list[Question]:
    """Questions from a dataset made by :func:`questions_to_hf` (rows checked as benchmark files are)."""
    return [_question(row, f"dataset row {i}") for i, row in enumerate(dataset)]
