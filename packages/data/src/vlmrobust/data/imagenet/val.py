"""ImageNet-1k validation in its three official layouts, with original, clean (Kisel et al.) or ReaL labels.

Layouts (``data_formats.md`` §1.1):

* ``"folders"``: ``<root>/<wnid>/ILSVRC2012_val_XXXXXXXX.JPEG`` (valprep.sh / torchvision ``ImageNet``);
* ``"devkit"``: flat ``<root>/ILSVRC2012_val_XXXXXXXX.JPEG`` plus the devkit ground truth and ``meta.mat``;
* ``"kaggle"``: ``<root>/ILSVRC/Data/CLS-LOC/val/*.JPEG`` plus ``<root>/LOC_val_solution.csv``.

The sample id is the image id ``ILSVRC2012_val_XXXXXXXX`` in every layout and samples are sorted by it, so
results from different layouts line up.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.imagenet import metadata
from vlmrobust.data.imagenet.devkit import devkit_val_labels, find_devkit
from vlmrobust.data.imagenet.labels import read_clean_labels, read_real_labels
from vlmrobust.data.imagenet.samples import (
    DatasetFormatError,
    ImageSet,
    OnError,
    Problems,
    Sample,
    close_matches,
    imagenet_1k_classes,
)
from vlmrobust.data.imagenet.scan import is_image_name, require_dir, scan_class_folders, scan_dir

ValLayout = Literal["auto", "folders", "devkit", "kaggle"]
LabelSource = Literal["original", "clean", "real"]

NUM_VAL_IMAGES = 50_000
KAGGLE_IMAGES = Path("ILSVRC", "Data", "CLS-LOC", "val")
KAGGLE_SOLUTION = "LOC_val_solution.csv"
KAGGLE_HEADER = ("ImageId", "PredictionString")
# image id, its number, optional wnid suffix (HF ``ILSVRC/imagenet-1k`` names), extension
VAL_FILE = re.compile(r"^(ILSVRC2012_val_(\d{8}))(?:_(n\d{8}))?\.(?:JPEG|jpeg|JPG|jpg|PNG|png)$")
_WNID = re.compile(r"^n\d{8}$")
_KAGGLE_ID = re.compile(r"^ILSVRC2012_val_(\d{8})$")

# one labelled val image before the label source is applied: (image number, image id, path, IN-1k index)
_Entry = tuple[int, str, str, int]


def detect_val_layout(root: Path) -> tuple[Literal["folders", "devkit", "kaggle"], Path]:
    """Guess the layout of an ImageNet val folder; returns it and the folder holding the images.

    ``root`` may also be a torchvision ``ImageNet`` root whose ``val/`` holds the wnid folders.
    """
    if (root / KAGGLE_SOLUTION).is_file():
        return "kaggle", root
    dirs, files = scan_dir(str(root))
    if any(_WNID.match(d) for d in dirs):
        return "folders", root
    if any(VAL_FILE.match(f) for f in files):
        return "devkit", root
    if "val" in dirs:
        return detect_val_layout(root / "val")
    raise DatasetFormatError(
        f"{root}: cannot tell the ImageNet val layout: no wnid folders (n01440764/ ...), no flat "
        f"ILSVRC2012_val_XXXXXXXX.JPEG files and no {KAGGLE_SOLUTION}. Pass layout= explicitly."
    )


def _index_folders(root: Path, problems: Problems) -> list[_Entry]:
    folders, _ = scan_class_folders(
        root, metadata.wnid_to_index(), problems, what="ILSVRC-2012 wnid", accept=None
    )
    wnids = metadata.wnids()
    match = VAL_FILE.match
    out = []
    for k, folder, files in folders:
        prefix = folder + os.sep
        for fname in files:
            m = match(fname)
            if m is None or m.group(3) not in (None, wnids[k]) or not 0 < int(m.group(2)) <= NUM_VAL_IMAGES:
                _bad_name(prefix + fname, m, wnids[k], problems)
            else:
                out.append((int(m.group(2)), m.group(1), prefix + fname, k))
    return out


def _bad_name(path: str, match: re.Match[str] | None, wnid: str | None, problems: Problems) -> None:
    if match is None:
        if is_image_name(path):
            problems(path, "file name is not ILSVRC2012_val_XXXXXXXX.JPEG")
        elif wnid is not None:  # class folders hold images only; flat folders may hold archives, notes ...
            problems(path, "not an image file of this layout")
    elif match.group(3) is not None and match.group(3) != wnid:
        problems(path, f"file name says {match.group(3)} but it sits in folder {wnid}")
    else:
        problems(path, f"image number {int(match.group(2))} is outside 1..{NUM_VAL_IMAGES}")


def _flat_images(images_dir: Path, problems: Problems) -> list[tuple[int, str, str, str | None]]:
    """(number, image id, path, wnid suffix or None) of the flat val images.

    Other image files are bad input; non-image files (archives, notes) are ignored.
    """
    _, files = scan_dir(str(images_dir))
    prefix = str(images_dir) + os.sep
    match = VAL_FILE.match
    out = []
    for fname in files:
        m = match(fname)
        if m is not None and 0 < (number := int(m.group(2))) <= NUM_VAL_IMAGES:
            out.append((number, m.group(1), prefix + fname, m.group(3)))
        else:
            _bad_name(prefix + fname, m, None, problems)
    return out


def _label_flat(
    images: list[tuple[int, str, str, str | None]], label_of: Callable[[int], int | None], problems: Problems
) -> list[_Entry]:
    """Attach labels to flat images; ``label_of`` returns None (after reporting) when there is none."""
    wnids = metadata.wnids()
    out = []
    for number, image_id, path, suffix in images:
        label = label_of(number)
        if label is None:
            continue
        if suffix is not None and suffix != wnids[label]:
            problems(path, f"file name says {suffix} but its label is {wnids[label]} (IN-1k {label})")
        else:
            out.append((number, image_id, path, label))
    return out


def _index_devkit(root: Path, devkit: Path | None, problems: Problems) -> list[_Entry]:
    devkit = find_devkit(root) if devkit is None else Path(devkit)
    if not devkit.exists():
        raise FileNotFoundError(f"{devkit}: devkit folder or archive does not exist")
    labels, gt_file = devkit_val_labels(devkit, problems)
    images = _flat_images(root, problems)
    paths = {number: path for number, _, path, _ in images}

    def label_of(number: int) -> int | None:
        if number > len(labels):
            problems(paths[number], f"no line {number} in {gt_file} ({len(labels)} lines)")
            return None
        return labels[number - 1]  # None after a bad line, reported already

    return _label_flat(images, label_of, problems)


def read_kaggle_solution(path: Path, problems: Problems) -> dict[int, int]:
    """Parse ``LOC_val_solution.csv``: val image number -> IN-1k index of the first box's wnid."""
    index = metadata.wnid_to_index()
    out: dict[int, int] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = tuple(next(reader, ()))
        if header != KAGGLE_HEADER:
            raise DatasetFormatError(
                f"{path}:1: header {','.join(header)!r}, expected {','.join(KAGGLE_HEADER)!r}"
            )
        for row in reader:
            match = _KAGGLE_ID.match(row[0]) if len(row) == 2 else None
            tokens = row[1].split() if match else []
            boxes = tokens[::5]  # the wnid of each box
            wnid = boxes[0] if boxes else ""
            number = int(match.group(1)) if match else 0
            if match is None or not tokens or len(tokens) % 5:
                error = f"malformed row {row!r}: want ILSVRC2012_val_XXXXXXXX,<wnid x0 y0 x1 y1>..."
            elif wnid not in index:
                error = f"unknown wnid {wnid!r}.{close_matches(wnid, index)}"
            elif boxes.count(wnid) != len(boxes):
                error = f"boxes carry different wnids {sorted(set(boxes))}; the label is ambiguous"
            elif number in out:
                error = f"duplicate ImageId {row[0]!r}"
            else:
                out[number] = index[wnid]
                continue
            problems(f"{path}:{reader.line_num}", error)
    return out


def _index_kaggle(root: Path, problems: Problems) -> list[_Entry]:
    images_dir = require_dir(root / KAGGLE_IMAGES, "Kaggle val image folder")
    solution = root / KAGGLE_SOLUTION
    if not solution.is_file():
        raise FileNotFoundError(f"{solution}: Kaggle val solution file does not exist")
    labels = read_kaggle_solution(solution, problems)
    images = _flat_images(images_dir, problems)
    paths = {number: path for number, _, path, _ in images}

    def label_of(number: int) -> int | None:
        if number not in labels:
            problems(paths[number], f"no row for this image in {solution}")
        return labels.get(number)

    return _label_flat(images, label_of, problems)


def _drop_duplicates(entries: list[_Entry], problems: Problems) -> list[_Entry]:
    """Sort by image number and drop every copy of an image found more than once (never guess a label)."""
    entries.sort()
    numbers = [e[0] for e in entries]
    dup = {n for i, n in enumerate(numbers[1:]) if n == numbers[i]}
    for number, image_id, path, _ in entries:
        if number in dup:
            problems(path, f"image {image_id} occurs more than once")
    return [e for e in entries if e[0] not in dup] if dup else entries


def read_imagenet_val(
    root: str | os.PathLike[str],
    *,
    layout: ValLayout = "auto",
    labels: LabelSource = "original",
    label_file: str | os.PathLike[str] | None = None,
    devkit: str | os.PathLike[str] | None = None,
    on_error: OnError = "raise",
) -> ImageSet:
    """Index ImageNet-1k val (no image is opened).

    Args:
        root: the val folder (wnid folders or flat images) or the Kaggle competition folder.
        layout: ``"folders"``, ``"devkit"`` (flat + devkit), ``"kaggle"``, or ``"auto"`` to detect.
        labels: ``"original"`` (the layout's label), ``"clean"`` (Kisel et al. ``clean_validation.csv``;
            multi-label, unlisted images excluded) or ``"real"`` (ReaL ``real.json``; empty entries excluded).
        label_file: path of ``clean_validation.csv`` / ``real.json``; required unless labels is original.
        devkit: devkit folder or ``.tar.gz`` for the flat layout; default: searched beside ``root``.
        on_error: ``"raise"`` on the first bad input, or ``"skip"`` it and report the count at the end.

    Returns:
        An ``ImageSet`` named ``imagenet-val`` (``imagenet-val-clean`` / ``imagenet-val-real``).
    """
    root = require_dir(root, "ImageNet val folder")
    if labels not in ("original", "clean", "real"):
        raise ValueError(
            f"unknown label source {labels!r}. {did_you_mean(labels, ('original', 'clean', 'real'))}"
        )
    if labels != "original" and label_file is None:
        raise ValueError(f"labels={labels!r} needs label_file= (clean_validation.csv or real.json)")
    if layout == "auto":
        layout, root = detect_val_layout(root)
    problems = Problems(on_error, f"ImageNet val at {root}")
    if layout == "folders":
        entries = _index_folders(root, problems)
    elif layout == "devkit":
        entries = _index_devkit(root, None if devkit is None else Path(devkit), problems)
    elif layout == "kaggle":
        entries = _index_kaggle(root, problems)
    else:
        raise ValueError(
            f"unknown layout {layout!r}. {did_you_mean(layout, ('auto', 'folders', 'devkit', 'kaggle'))}"
        )
    entries = _drop_duplicates(entries, problems)
    samples, excluded = _apply_labels(entries, labels, label_file, problems)
    return ImageSet(
        name="imagenet-val" if labels == "original" else f"imagenet-val-{labels}",
        root=str(root),
        samples=tuple(samples),
        classes=imagenet_1k_classes(),
        multi_label=labels != "original",
        skipped=problems.finish(len(samples)),
        excluded=excluded,
    )


def _apply_labels(
    entries: list[_Entry], source: LabelSource, label_file: str | os.PathLike[str] | None, problems: Problems
) -> tuple[list[Sample], int]:
    single = [(k,) for k in range(metadata.NUM_CLASSES)]
    if source == "original":
        return [Sample(image_id, path, single[k], single[k]) for _, image_id, path, k in entries], 0
    assert label_file is not None
    samples, excluded = [], 0
    if source == "clean":
        clean = read_clean_labels(label_file, problems)
        for number, image_id, path, k in entries:
            row = clean.get(number)
            if row is None:
                excluded += 1
            elif row.original != k:
                problems(
                    f"{label_file}:{row.line}",
                    f"original_label {row.original} disagrees with the label "
                    f"{k} of {path}; the val labels or the clean-label file are wrong",
                )
            else:
                samples.append(Sample(image_id, path, row.proposed, row.proposed, official=k))
        return samples, excluded
    real = read_real_labels(label_file, problems)
    for number, image_id, path, k in entries:
        if number > len(real):
            problems(label_file, f"has {len(real)} entries, none for {path}")
        elif (labels := real[number - 1]) == ():
            excluded += 1
        elif labels is not None:  # a malformed entry was reported already
            samples.append(Sample(image_id, path, labels, labels, official=k))
    return samples, excluded
