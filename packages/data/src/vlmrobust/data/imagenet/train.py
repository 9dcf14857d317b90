"""ImageNet-1k train, read in place from the official folder layout (``train/<wnid>/<wnid>_<n>.JPEG``).

Accepted roots: the ``train`` folder itself (1000 wnid folders), a folder holding ``train/`` (the torchvision
``ImageNet`` root), or the Kaggle competition folder (``ILSVRC/Data/CLS-LOC/train/<wnid>/...``). The label
of an image is the IN-1k index of its folder's wnid; its sample id is ``<wnid>/<file name>``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vlmrobust.data.imagenet import metadata
from vlmrobust.data.imagenet.samples import (
    DatasetFormatError,
    ImageSet,
    OnError,
    Problems,
    Sample,
    imagenet_1k_classes,
)
from vlmrobust.data.imagenet.scan import require_dir, scan_class_folders, scan_dir

KAGGLE_TRAIN = Path("ILSVRC", "Data", "CLS-LOC", "train")
_WNID = re.compile(r"^n\d{8}$")
# the wnid prefix of an official train file name, e.g. ``n01440764`` of ``n01440764_10026.JPEG``
_NAME_WNID = re.compile(r"^(n\d{8})_")


def find_train_folder(root: Path) -> Path:
    """The folder holding the 1000 wnid folders: ``root`` itself, ``root/train`` or Kaggle's
    ``root/ILSVRC/Data/CLS-LOC/train``.

    Raises:
        DatasetFormatError: none of them holds a wnid folder.
    """
    if (root / KAGGLE_TRAIN).is_dir():
        return root / KAGGLE_TRAIN
    dirs, _ = scan_dir(str(root))
    if any(_WNID.match(d) for d in dirs):
        return root
    if "train" in dirs:
        return find_train_folder(root / "train")
    raise DatasetFormatError(
        f"{root}: not an ImageNet train folder: no wnid folders (n01440764/ ...), no train/ and no "
        f"Kaggle {KAGGLE_TRAIN.as_posix()}/"
    )


def read_imagenet_train(
    root: str | os.PathLike[str],
    *,
    samples_per_class: int | None = None,
    on_error: OnError = "raise",
) -> ImageSet:
    """Index ImageNet-1k train (no image is opened).

    A folder that is not one of the 1000 ILSVRC-2012 wnids, a missing wnid folder, a non-image file in a
    class folder, and an image whose file name carries another wnid (``n01443537_1.JPEG`` inside
    ``n01440764/``) are bad input. Class folders may hold images named otherwise (resized copies): only the
    folder sets the label.

    Args:
        root: the ``train`` folder, a folder holding ``train/``, or the Kaggle competition folder.
        samples_per_class: keep the first N images of each class in sorted file-name order (few-shot
            probes, training-set-size sweeps); ``None`` keeps all.
        on_error: ``"raise"`` on the first bad input, or ``"skip"`` it and report the count at the end.

    Returns:
        An ``ImageSet`` named ``imagenet-train`` over the 1000 IN-1k classes, sorted by (label, file name).
    """
    if samples_per_class is not None and samples_per_class < 1:
        raise ValueError(f"samples_per_class must be >= 1 (or None), got {samples_per_class}")
    root = find_train_folder(require_dir(root, "ImageNet train folder"))
    problems = Problems(on_error, f"ImageNet train at {root}")
    folders, _ = scan_class_folders(root, metadata.wnid_to_index(), problems, what="ILSVRC-2012 wnid")
    classes = imagenet_1k_classes()
    wnids = metadata.wnids()
    match = _NAME_WNID.match
    samples: list[Sample] = []
    for k, folder, files in folders:
        wnid, label = wnids[k], classes.in1k_groups[k]
        kept = 0
        for fname in files:
            m = match(fname)
            if m is not None and m.group(1) != wnid:
                problems(
                    os.path.join(folder, fname), f"file name says {m.group(1)} but it sits in folder {wnid}"
                )
                continue
            if samples_per_class is not None and kept == samples_per_class:
                break
            samples.append(Sample(f"{wnid}/{fname}", os.path.join(folder, fname), label, label))
            kept += 1
    return ImageSet(
        name="imagenet-train",
        root=str(root),
        samples=tuple(samples),
        classes=classes,
        skipped=problems.finish(len(samples)),
    )
