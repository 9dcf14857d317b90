"""Reader of Stylized-ImageNet val (Geirhos et al., ICLR 2019): ImageNet val re-rendered by AdaIN style
transfer with paintings, so that texture no longer identifies the class.

There is no download: ``rgeirhos/Stylized-ImageNet`` (``code/preprocess_imagenet.py``) mirrors ImageNet's
``train/`` and ``val/`` into ``<out>/train/<wnid>/`` and ``<out>/val/<wnid>/`` with each ``<name>.JPEG``
saved as ``<name>.png``.
"""

from __future__ import annotations

import os

from vlmrobust.data.imagenet.samples import ImageSet, OnError, imagenet_1k_classes
from vlmrobust.data.imagenet.scan import require_dir
from vlmrobust.data.imagenet.shifts import _folder_set, _wnid_folders


def read_stylized_imagenet(root: str | os.PathLike[str], *, on_error: OnError = "raise") -> ImageSet:
    """Index Stylized-ImageNet val, ``<root>/<wnid>/ILSVRC2012_val_<n>.png``, as ``stylized-imagenet``.

    Args:
        root: the stylized ``val/`` folder, or the Stylized-ImageNet folder holding it.
        on_error: ``"raise"`` on the first bad input, or ``"skip"`` it and report the count at the end.
    """
    root = require_dir(root, "Stylized-ImageNet folder")
    if (root / "val").is_dir():
        root = root / "val"
    classes = imagenet_1k_classes()
    return _folder_set(
        "stylized-imagenet", root, classes, _wnid_folders(classes), "ILSVRC-2012 wnid", on_error
    )
