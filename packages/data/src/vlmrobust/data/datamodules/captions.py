"""LightningDataModule of image-caption training pairs (COCO / Flickr30k Karpathy splits), evals delegated.

Training reads a Karpathy split file (``vlmrobust.data.captions.read_karpathy``) and serves one item per
(image, caption) pair. Validation and testing are another DataModule's (``eval_data``, e.g.
``ImageNetDataModule`` with its shifts, or ``WorldDataModule``): its ``eval_sets``, ``eval_datasets`` and
loaders are served as they are, so a recipe can fine-tune on COCO captions and track ImageNet robustness::

    data:
      class_path: vlmrobust.data.datamodules.CaptionsDataModule
      init_args:
        annotations: /data/coco/dataset_coco.json
        image_root: /data/coco          # holds train2014/ and val2014/
        eval_data:
          class_path: vlmrobust.data.datamodules.ImageNetDataModule
          init_args: {val_root: /data/imagenet/val}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from vlmrobust.data.captions.dataset import CaptionPairDataset, ImageTransform
from vlmrobust.data.captions.karpathy import (
    KARPATHY_TRAIN,
    KarpathyCaptions,
    KarpathySplit,
    check_splits,
    read_karpathy,
)
from vlmrobust.data.datamodules.imagenet import ResizeCenterCrop
from vlmrobust.data.datamodules.resumable import ResumableTrainData
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet.samples import OnError
from vlmrobust.data.world.datasets import collate_captions


class CaptionsDataModule(ResumableTrainData, LightningDataModule):
    """Karpathy-split image-caption pairs for contrastive training; eval sets from ``eval_data``.

    ``train_dataloader()`` yields shuffled (seeded) batches ``{"image" [B, 3, H, W], "caption" list[str],
    "index" [B], "image_id" [B]}``, one item per caption (an image with five captions appears five times
    per epoch). The annotation file is read on the first ``setup("fit")`` / ``train_dataloader()`` only,
    not for validate/test. Images get a resize + centre crop to ``image_size`` until a LightningModule
    installs its model's preprocessing with :meth:`set_image_transforms` (forwarded to ``eval_data``).

    Args:
        annotations: the Karpathy split file, ``dataset_coco.json`` or ``dataset_flickr30k.json``.
        image_root: folder holding ``train2014/`` and ``val2014/`` (COCO) or the Flickr30k images.
        splits: Karpathy splits to train on; default train + restval ("Karpathy train").
        batch_size: training batch size.
        num_workers: DataLoader worker processes (persistent when > 0).
        seed: seed of the shuffling generator of the training loader.
        on_missing: an image file listed in the annotations but absent: ``raise``, or ``skip`` (counted, logged).
        image_size: side of the default training transform (replaced by ``set_image_transforms``).
        drop_last: drop the last incomplete training batch (as open_clip does for contrastive training).
        eval_data: DataModule serving the eval sets (``eval_sets``, ``val_dataloader()``, ...); ``None``: no
            evaluation (``eval_sets`` empty, no val/test loaders).

    Attributes:
        captions: the records read (after ``setup("fit")``), with the images skipped as missing.
        train_set: the pair dataset behind ``train_dataloader()``.
    """

    def __init__(
        self,
        annotations: str,  # Karpathy split file: dataset_coco.json or dataset_flickr30k.json
        image_root: str,  # holds train2014/ and val2014/ (COCO) or the Flickr30k images
        splits: Sequence[
            KarpathySplit
        ] = KARPATHY_TRAIN,  # splits to train on; train+restval = Karpathy train
        batch_size: int = 64,  # training batch size
        num_workers: int = 0,  # DataLoader worker processes (persistent when > 0)
        seed: int = 0,  # seed of the training loader's shuffling generator
        on_missing: OnError = "raise",  # image file absent: raise, or skip and report the count
        image_size: int = 224,  # side of the default train transform (replaced by set_image_transforms)
        drop_last: bool = True,  # drop the last incomplete training batch (open_clip's contrastive default)
        eval_data: LightningDataModule | None = None,  # DataModule of the eval sets; None: no evaluation
    ) -> None:
        super().__init__()
        self.splits = check_splits(splits)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if on_missing not in ("raise", "skip"):
            raise ValueError(f"unknown on_missing {on_missing!r}; valid: 'raise', 'skip'")
        self.save_hyperparameters(ignore=["eval_data"])  # eval_data keeps its own hyperparameters
        self.annotations, self.image_root = annotations, image_root
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.on_missing, self.drop_last = on_missing, drop_last
        self.eval_data = eval_data
        self.train_transform: ImageTransform | None = ResizeCenterCrop(image_size)
        self.captions: KarpathyCaptions | None = None
        self.train_set: CaptionPairDataset | None = None

    # --- delegated evaluation --------------------------------------------------------------------------
    @property
    def eval_sets(self) -> list[EvalSetInfo]:
        """``eval_data.eval_sets`` (same order as ``val_dataloader()``); empty without ``eval_data``."""
        return [] if self.eval_data is None else list(self.eval_data.eval_sets)

    @property
    def eval_datasets(self) -> list[Any]:
        """``eval_data.eval_datasets`` (after ``setup``); empty without ``eval_data``."""
        return [] if self.eval_data is None else list(self.eval_data.eval_datasets)

    @property
    def class_names(self) -> tuple[str, ...]:
        """``eval_data``'s class names (those of its first eval set if it has no ``class_names``); ``()``
        without ``eval_data``."""
        if self.eval_data is None:
            return ()
        names = getattr(self.eval_data, "class_names", None)
        if names is None:
            sets = self.eval_sets
            names = sets[0].class_names if sets else ()
        return tuple(names)

    def prepare_data(self) -> None:
        """Forwarded to ``eval_data`` (the caption files are read in place, nothing to prepare)."""
        if self.eval_data is not None:
            self.eval_data.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        """Read the annotation file for ``fit`` (once) and set up ``eval_data``."""
        if stage in (None, "fit") and self.train_set is None:
            self.captions = read_karpathy(
                self.annotations, self.image_root, self.splits, on_missing=self.on_missing
            )
            if not len(self.captions):
                raise ValueError(f"{self.annotations}: no image of splits {list(self.splits)} to train on")
            name = self.captions.dataset or "captions"
            self.train_set = CaptionPairDataset(self.captions.records, self.train_transform, name)
        if self.eval_data is not None:
            self.eval_data.setup(stage)

    def set_image_transforms(self, train: ImageTransform, eval: ImageTransform) -> None:
        """Use ``train`` for training images (also on a built dataset); forward both to ``eval_data``."""
        self.train_transform = train
        if self.train_set is not None:
            self.train_set.transform = train
        if self.eval_data is not None and hasattr(self.eval_data, "set_image_transforms"):
            self.eval_data.set_image_transforms(train, eval)

    # --- loaders --------------------------------------------------------------------------------------
    def train_dataloader(self) -> DataLoader:
        """Shuffled image-caption batches (order and augmentations seeded by (``seed``, epoch); a resumed fit
        continues its epoch, ``ResumableTrainData``), batched by ``collate_captions``."""
        if self.train_set is None:
            self.setup("fit")
        assert self.train_set is not None
        if self.drop_last and len(self.train_set) < self.batch_size:
            raise ValueError(
                f"{self.annotations}: {len(self.train_set)} image-caption pairs are fewer than batch_size "
                f"{self.batch_size} with drop_last=True: no training batch"
            )
        return self.resumable_loader(
            self.train_set,
            self.batch_size,
            self.seed,
            collate_captions,
            drop_last=self.drop_last,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> list[DataLoader]:
        """``eval_data.val_dataloader()`` (one loader per eval set); ``[]`` without ``eval_data``."""
        return [] if self.eval_data is None else _as_list(self.eval_data.val_dataloader())

    def test_dataloader(self) -> list[DataLoader]:
        """``eval_data.test_dataloader()``; ``[]`` without ``eval_data``."""
        return [] if self.eval_data is None else _as_list(self.eval_data.test_dataloader())


def _as_list(loaders: Any) -> list[DataLoader]:
    return list(loaders) if isinstance(loaders, list | tuple) else [loaders]
