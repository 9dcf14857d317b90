"""Readers of ImageNet's natural distribution shifts: ImageNet-V2, -Sketch, -R, -A and ObjectNet.

Each returns an ``ImageSet`` (no image is opened while indexing) whose sample ids are the image paths
relative to the set root, and whose ``id_set`` names the ImageNet val set on the same classes
(``imagenet-val`` for 1000-class shifts, ``imagenet-val-on-<subset>-classes`` otherwise).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from vlmrobust.data.imagenet import metadata
from vlmrobust.data.imagenet.restrict import paired_id_name
from vlmrobust.data.imagenet.samples import (
    ClassSubset,
    ImageSet,
    OnError,
    Problems,
    Sample,
    imagenet_1k_classes,
    imagenet_a_classes,
    imagenet_r_classes,
    objectnet_classes,
)
from vlmrobust.data.imagenet.scan import require_dir, scan_class_folders, scan_dir

OBJECTNET_BORDER = 2  # pixels cropped from every side: the 1-px red licence border and one more
_WNID = re.compile(r"^n\d{8}$")


def _folder_set(
    name: str,
    root: Path,
    classes: ClassSubset,
    folder_class: Mapping[str, int],
    what: str,
    on_error: OnError,
    *,
    dropped: frozenset[str] = frozenset(),
    border_crop: int = 0,
) -> ImageSet:
    problems = Problems(on_error, f"{name} at {root}")
    folders, n_dropped = scan_class_folders(root, folder_class, problems, what=what, dropped=dropped)
    samples = []
    for k, folder, files in folders:
        prefix, label, in1k = os.path.basename(folder) + "/", (k,), classes.in1k_groups[k]
        samples.extend(Sample(prefix + f, os.path.join(folder, f), label, in1k) for f in files)
    return ImageSet(
        name=name,
        root=str(root),
        samples=tuple(samples),
        classes=classes,
        id_set=paired_id_name("imagenet-val", classes),
        border_crop=border_crop,
        skipped=problems.finish(len(samples)),
        excluded=n_dropped,
    )


def _wnid_folders(classes: ClassSubset) -> dict[str, int]:
    wnids = metadata.wnids()
    return {wnids[group[0]]: k for k, group in enumerate(classes.in1k_groups)}


def read_imagenet_v2(
    root: str | os.PathLike[str], *, name: str = "imagenet-v2", on_error: OnError = "raise"
) -> ImageSet:
    """Index ImageNet-V2 (any variant): ``<root>/<k>/<sha1>.jpeg`` with label ``int(k)``, k = 0..999.

    The label is the folder's number, not its rank in a string sort ("10" < "2"). The pre-2021 release
    with wnid folders is read too.

    Args:
        root: e.g. ``imagenetv2-matched-frequency-format-val``.
        name: eval-set name (e.g. ``"imagenet-v2-threshold0.7"`` for another variant).
        on_error: ``"raise"`` on the first bad input, or ``"skip"`` it and report the count at the end.
    """
    root = require_dir(root, "ImageNet-V2 folder")
    dirs, _ = scan_dir(str(root))
    classes = imagenet_1k_classes()
    if dirs and all(_WNID.match(d) for d in dirs):
        return _folder_set(name, root, classes, _wnid_folders(classes), "ILSVRC-2012 wnid", on_error)
    folders = {str(k): k for k in range(metadata.NUM_CLASSES)}
    return _folder_set(name, root, classes, folders, "class number 0..999 (no leading zeros)", on_error)


def read_imagenet_sketch(root: str | os.PathLike[str], *, on_error: OnError = "raise") -> ImageSet:
    """Index ImageNet-Sketch: ``<root>/<wnid>/sketch_<n>.JPEG`` for the 1000 classes (root: ``sketch/``)."""
    root = require_dir(root, "ImageNet-Sketch folder")
    classes = imagenet_1k_classes()
    return _folder_set("imagenet-sketch", root, classes, _wnid_folders(classes), "ILSVRC-2012 wnid", on_error)


def read_imagenet_r(root: str | os.PathLike[str], *, on_error: OnError = "raise") -> ImageSet:
    """Index ImageNet-R: ``<root>/<wnid>/<style>_<n>.jpg`` for 200 classes (label = rank of the wnid)."""
    root = require_dir(root, "ImageNet-R folder")
    classes = imagenet_r_classes()
    return _folder_set(
        "imagenet-r", root, classes, _wnid_folders(classes), "wnid of the 200 ImageNet-R classes", on_error
    )


def read_imagenet_a(root: str | os.PathLike[str], *, on_error: OnError = "raise") -> ImageSet:
    """Index ImageNet-A: ``<root>/<wnid>/<name>.jpg`` for 200 classes (label = rank of the wnid).

    File names contain spaces and class words that are not the label; only the folder counts.
    """
    root = require_dir(root, "ImageNet-A folder")
    classes = imagenet_a_classes()
    return _folder_set(
        "imagenet-a", root, classes, _wnid_folders(classes), "wnid of the 200 ImageNet-A classes", on_error
    )


def read_objectnet(root: str | os.PathLike[str], *, on_error: OnError = "raise") -> ImageSet:
    """Index the 113 ObjectNet classes that overlap IN-1k: ``<root>/images/<folder>/<hash>.png``.

    The label is the rank of the folder among the 113 sorted folder names; ``in1k_labels`` lists every
    IN-1k id mapped to it (a 1000-way prediction is correct if it is any of them). Images of the other
    200 folders are left out (``excluded`` counts those images). Images are cropped by 2 px on every
    side when loaded.

    Args:
        root: ``objectnet-1.0`` (holding ``images/``) or its ``images`` folder.
        on_error: ``"raise"`` on the first bad input, or ``"skip"`` it and report the count at the end.
    """
    root = require_dir(root, "ObjectNet folder")
    if (root / "images").is_dir():
        root = root / "images"
    classes = objectnet_classes()
    folder_class = {folder: k for k, folder in enumerate(metadata.objectnet_folder_to_in1k())}
    dropped = frozenset(metadata.objectnet_folder_labels()) - set(folder_class)
    return _folder_set(
        "objectnet",
        root,
        classes,
        folder_class,
        "ObjectNet folder",
        on_error,
        dropped=dropped,
        border_crop=OBJECTNET_BORDER,
    )
