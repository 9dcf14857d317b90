"""Reader of the hard-positive benchmarks (Kamath et al., ECCV 2024): REPLACE-att, REPLACE-rel and SWAP.

Each benchmark is two JSON arrays aligned by index, under the repository root: ``data/<file>`` holds the
original caption (``true_caption``) and the hard negative (``false_caption``), ``swapped_data/<file>`` the
hard positive (its ``true_caption``) and the same hard negative.

* REPLACE (``vl_checklist_attributes.json``, ``vl_checklist_relations.json``): records
  ``{"image_id": "2401814", "true_caption": ..., "false_caption": ..., "image_path": "data/VG_100K_2/2401814.jpg"}``,
  the image uncropped. ``image_path`` is relative to the repository; a leading ``data/`` is dropped and the
  rest joined under ``image_root`` (``<image_root>/VG_100K_2/2401814.jpg``), so the official layout is read
  with ``image_root = <repo>/data``.
* SWAP (``visual_genome_attribution.json``): the ARO VG-Attribution format, the image
  ``<image_root>/images/<image_path>`` cropped to the bbox.

Rows are aligned when both files have the same length and, at every index, the same hard negative and the
same image (``image_id`` for REPLACE; ``image_path`` and crop box for SWAP).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.aro.reader import parse_vg
from vlmrobust.data.choice import CaptionChoice, CaptionChoiceDataset, ImageRef
from vlmrobust.data.imagenet.samples import DatasetFormatError, OnError, Problems
from vlmrobust.data.records import JsonRecord, caption_choice_dataset, image_present, load_json_array

Benchmark = Literal["replace-att", "replace-rel", "swap"]
#: File name (in both ``data/`` and ``swapped_data/``) of each benchmark.
BENCHMARK_FILES: dict[str, str] = {
    "replace-att": "vl_checklist_attributes.json",
    "replace-rel": "vl_checklist_relations.json",
    "swap": "visual_genome_attribution.json",
}


@dataclass(frozen=True, slots=True)
class _Row:
    """One record of either file: its id in sample ids, what aligns it, its image and its two captions."""

    name: str
    key: str
    image: ImageRef
    true_caption: str
    false_caption: str


def replace_image_path(image_path: str, image_root: Path) -> Path:
    """``data/VG_100K/1.jpg`` -> ``<image_root>/VG_100K/1.jpg`` (a leading ``data/`` is dropped)."""
    parts = PurePosixPath(image_path).parts
    return image_root.joinpath(*(parts[1:] if parts[:1] == ("data",) else parts))


def _replace_rows(path: Path, image_root: Path) -> list[_Row]:
    rows = []
    for i, raw in enumerate(load_json_array(path)):
        rec = JsonRecord(path, i, raw)
        image_id = str(rec.value("image_id", (str, int)))
        image = ImageRef(replace_image_path(rec.text("image_path"), image_root))
        rows.append(_Row(image_id, image_id, image, rec.text("true_caption"), rec.text("false_caption")))
    return rows


def _swap_rows(path: Path, image_root: Path) -> list[_Row]:
    return [_Row(r.image_path, f"{r.image_path} cropped to {r.image.box}", r.image, r.true_caption, r.false_caption)
            for r in parse_vg(path, image_root, "attribution")]  # fmt: skip


def _align(data_path: Path, data: list[_Row], swapped_path: Path, swapped: list[_Row], key: str) -> None:
    if len(data) != len(swapped):
        raise DatasetFormatError(f"{data_path} has {len(data)} records but {swapped_path} has {len(swapped)}; "
                                 "the two files are aligned by index")  # fmt: skip
    for i, (a, b) in enumerate(zip(data, swapped, strict=True)):
        for what, x, y in ((key, a.key, b.key), ("false_caption", a.false_caption, b.false_caption)):
            if x != y:
                raise DatasetFormatError(f"{data_path} and {swapped_path}: record {i}: {what} differs "
                                         f"({x!r} vs {y!r}); the two files are aligned by index")  # fmt: skip


def read_hard_positives(
    root: str | os.PathLike[str],
    benchmark: Benchmark,
    image_root: str | os.PathLike[str],
    on_missing: OnError = "raise",
) -> CaptionChoiceDataset:
    """Read a hard-positive benchmark: options ``(c, c_n, c_p)``, answer 0.

    ``c`` is ``data[i].true_caption``, ``c_n`` ``data[i].false_caption`` and ``c_p``
    ``swapped_data[i].true_caption``; the image is the ``data/`` record's. Sample ids are
    ``f"{position:05d}-{image_id}"`` (REPLACE) or ``f"{position:05d}-{image_path}"`` (SWAP).

    Args:
        root: the repository root holding ``data/`` and ``swapped_data/``.
        benchmark: ``replace-att``, ``replace-rel`` or ``swap``.
        image_root: REPLACE: where ``image_path`` minus its ``data/`` prefix lies (``<repo>/data`` in the
            official layout); SWAP: the folder holding ``images/``.
        on_missing: a missing image file: ``raise``, or ``skip`` it (counted in the set's ``skipped``).

    Raises:
        DatasetFormatError: a malformed record (the message names the file and index), files that are not
            aligned (the message names both files and the index), or a missing image under
            ``on_missing="raise"``.
        ValueError: an unknown ``benchmark``.
    """
    if benchmark not in BENCHMARK_FILES:
        raise ValueError(f"unknown hard-positive benchmark {benchmark!r}. "
                         f"{did_you_mean(benchmark, BENCHMARK_FILES, 'benchmarks')}")  # fmt: skip
    data_path = Path(root) / "data" / BENCHMARK_FILES[benchmark]
    swapped_path = Path(root) / "swapped_data" / BENCHMARK_FILES[benchmark]
    rows, key = (_swap_rows, "image") if benchmark == "swap" else (_replace_rows, "image_id")
    data, swapped = rows(data_path, Path(image_root)), rows(swapped_path, Path(image_root))
    _align(data_path, data, swapped_path, swapped, key)
    problems = Problems(on_missing, f"hard positives {benchmark} {data_path}")
    records = []
    for i, (a, b) in enumerate(zip(data, swapped, strict=True)):
        if image_present(a.image.path, problems, f"record {i} of {data_path}"):
            texts = (a.true_caption, a.false_caption, b.true_caption)  # (c, c_n, c_p)
            records.append(CaptionChoice(f"{i:05d}-{a.name}", a.image, texts, 0))
    return caption_choice_dataset(f"hard-positives-{benchmark}", "hard-positives", 3, records, problems)
