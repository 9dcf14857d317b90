"""Lightning DataModules: the procedural world, ImageNet with its shifts, caption pairs, cached features.

The only place in ``vlmrobust.data`` that imports Lightning. Every module exposes ``eval_sets`` (one
``EvalSetInfo`` per eval set) and ``eval_datasets`` (the datasets behind ``val_dataloader()``, same order):
the world and ImageNet serve plain classification or K-way MCQ (``mode="mcq"``); ``CaptionsDataModule``
(COCO / Flickr30k Karpathy pairs) and ``FeatureDataModule`` (another module's images, encoded once) take
their eval sets from the DataModule they wrap. ``BenchmarksDataModule`` serves the compositional
benchmarks (What'sUp, COCO/GQA-spatial, ARO, hard positives, MMVP, MMVP-VLM, retrieval) from their
official files, the world's copies included.
"""

from vlmrobust.data.datamodules.benchmarks import BenchmarksDataModule, BenchmarkSet
from vlmrobust.data.datamodules.captions import CaptionsDataModule
from vlmrobust.data.datamodules.features import FeatureDataModule
from vlmrobust.data.datamodules.imagenet import SHIFTS as IMAGENET_SHIFTS
from vlmrobust.data.datamodules.imagenet import ImageNetDataModule, ResizeCenterCrop
from vlmrobust.data.datamodules.world import WorldDataModule

__all__ = [
    "IMAGENET_SHIFTS",
    "BenchmarkSet",
    "BenchmarksDataModule",
    "CaptionsDataModule",
    "FeatureDataModule",
    "ImageNetDataModule",
    "ResizeCenterCrop",
    "WorldDataModule",
]
