"""ImageNet-1k train and val and the natural shifts of val, read from the official downloads in place.

Readers index a set without opening images and return an ``ImageSet`` of ``Sample`` s (stable
``sample_id``, path, labels in the set's ``ClassSubset`` and the IN-1k ids that count as correct).
``ImageNetEvalDataset`` wraps a set as a torch dataset; ``restrict_to_classes`` / ``pair_with_val`` give the
"val on a shift's classes" ID sets and ``collapse_logits`` maps 1000-way logits onto a subset. Synthetic
trees in every official layout come from ``vlmrobust.data.imagenet.fixtures``.
"""

from typing import TYPE_CHECKING, Any

from vlmrobust.data.imagenet.imagenet_x import (
    FACTORS,
    ImageNetXAnnotations,
    imagenet_x_subsets,
    read_imagenet_x,
)
from vlmrobust.data.imagenet.images import ImageDecodeError, load_image, verify_images
from vlmrobust.data.imagenet.restrict import (
    collapse_logits,
    id_counterpart,
    pair_with_val,
    paired_id_name,
    restrict_to_classes,
)
from vlmrobust.data.imagenet.samples import (
    ClassSubset,
    DatasetFormatError,
    ImageSet,
    OnError,
    Sample,
    Skip,
    imagenet_1k_classes,
    imagenet_a_classes,
    imagenet_r_classes,
    objectnet_classes,
)
from vlmrobust.data.imagenet.shifts import (
    read_imagenet_a,
    read_imagenet_r,
    read_imagenet_sketch,
    read_imagenet_v2,
    read_objectnet,
)
from vlmrobust.data.imagenet.train import read_imagenet_train
from vlmrobust.data.imagenet.val import LabelSource, ValLayout, detect_val_layout, read_imagenet_val

if TYPE_CHECKING:
    from vlmrobust.data.imagenet.dataset import ImageNetEvalDataset, eval_set_info


def __getattr__(name: str) -> Any:
    # the torch Dataset wrapper is imported on first use, so metadata and readers stay torch-free to import
    if name in ("ImageNetEvalDataset", "eval_set_info"):
        from vlmrobust.data.imagenet import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FACTORS",
    "ClassSubset",
    "DatasetFormatError",
    "ImageDecodeError",
    "ImageNetEvalDataset",
    "ImageNetXAnnotations",
    "ImageSet",
    "LabelSource",
    "OnError",
    "Sample",
    "Skip",
    "ValLayout",
    "collapse_logits",
    "detect_val_layout",
    "eval_set_info",
    "id_counterpart",
    "imagenet_1k_classes",
    "imagenet_a_classes",
    "imagenet_r_classes",
    "imagenet_x_subsets",
    "load_image",
    "objectnet_classes",
    "pair_with_val",
    "paired_id_name",
    "read_imagenet_a",
    "read_imagenet_r",
    "read_imagenet_sketch",
    "read_imagenet_train",
    "read_imagenet_v2",
    "read_imagenet_val",
    "read_imagenet_x",
    "read_objectnet",
    "restrict_to_classes",
    "verify_images",
]
