"""Lightning DataModules: the procedural world (training + robustness evals) and ImageNet with its shifts.

The only place in ``vlmrobust.data`` that imports Lightning. Both modules expose ``eval_sets`` (one
``EvalSetInfo`` per eval set) and ``eval_datasets`` (the datasets behind ``val_dataloader()``, same order),
and serve plain classification or K-way MCQ (``mode="mcq"``).
"""

from vlmrobust.data.datamodules.imagenet import SHIFTS as IMAGENET_SHIFTS
from vlmrobust.data.datamodules.imagenet import ImageNetDataModule, ResizeCenterCrop
from vlmrobust.data.datamodules.world import WorldDataModule

__all__ = ["IMAGENET_SHIFTS", "ImageNetDataModule", "ResizeCenterCrop", "WorldDataModule"]
