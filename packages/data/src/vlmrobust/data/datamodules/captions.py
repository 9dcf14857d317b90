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

With ``hard_negatives`` (NegCLIP), every training item also carries one hard-negative caption per kind,
``negative_0 .. negative_{k-1}`` (``vlmrobust.data.perturb.HardNegatives``; tagged by ``tagger``, spaCy by
default), for ``vlmrobust.train.negclip.NegCLIP(negative_keys=[negative_0, ...])``::

        hard_negatives: [swap_attributes, swap_relation]
        tagger: {class_path: vlmrobust.data.perturb.SpacyTagger}
"""

from __future__ import annotations

import logging
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
from vlmrobust.data.perturb.hard_negatives import HardNegativeKind, HardNegatives, check_kinds
from vlmrobust.data.perturb.negatives import DEFAULT_ATTRIBUTES, AttributeVocabulary
from vlmrobust.data.perturb.tagging import SpacyTagger, Tagger
from vlmrobust.data.world.datasets import collate_captions

log = logging.getLogger(__name__)


class CaptionsDataModule(ResumableTrainData, LightningDataModule):
    """Karpathy-split image-caption pairs for contrastive training; eval sets from ``eval_data``.

    ``train_dataloader()`` yields shuffled (seeded) batches ``{"image" [B, 3, H, W], "caption" list[str],
    "index" [B], "image_id" [B]}``, one item per caption (an image with five captions appears five times
    per epoch). The annotation file is read on the first ``setup("fit")`` / ``train_dataloader()`` only,
    not for validate/test. Images get a resize + centre crop to ``image_size`` until a LightningModule
    installs its model's preprocessing with :meth:`set_image_transforms` (forwarded to ``eval_data``).

    With ``hard_negatives`` of k kinds, batches also hold ``negative_0 .. negative_{k-1}`` (lists of B
    strings; column j of kind ``hard_negatives[j]``), made per caption by
    :class:`~vlmrobust.data.perturb.HardNegatives`, deterministic by (``seed``, pair index): a caption
    gets the same negatives in every epoch. A caption that kind j cannot perturb gets a fallback (the other
    kinds, then a word-order shuffle, then another image's caption; see
    :mod:`vlmrobust.data.perturb.hard_negatives`), flagged in the ``negative_fallback`` column
    (``[B, k]`` bool) and counted in :attr:`hard_negative_fallbacks` over the training batches this process
    has trained on (worker processes included); the count is logged at the end of fit.

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
        hard_negatives: kinds of the hard-negative columns ``negative_0 ..`` (``swap_attributes``,
            ``swap_relation``, ``replace_attribute``, ``swap_spatial``; a kind may repeat); empty: none.
        tagger: part-of-speech tagger of the tag-based kinds (``SpacyTagger``, ``PreTagged``,
            ``LexiconTagger`` or any class with ``tag(text)``); ``None``: ``SpacyTagger()``
            (``en_core_web_sm``) when a requested kind needs tags.
        attribute_vocabulary: ``replace_attribute``'s adjectives, as groups (name -> words; an adjective is
            replaced within its group) or one flat list; ``None``: ``perturb.DEFAULT_ATTRIBUTES``.

    Attributes:
        captions: the records read (after ``setup("fit")``), with the images skipped as missing.
        train_set: the pair dataset behind ``train_dataloader()``.
        hard_negative_fallbacks: negatives of trained batches that came from a fallback (this process).
        hard_negatives_served: negatives of trained batches in all (this process).
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
        hard_negatives: Sequence[HardNegativeKind] = (),  # kinds of columns negative_0..k-1; () none
        tagger: Tagger | None = None,  # POS tagger of the tag-based kinds; None: SpacyTagger() when needed
        attribute_vocabulary: AttributeVocabulary | None = None,  # replace_attribute's words; None: default
    ) -> None:
        super().__init__()
        self.splits = check_splits(splits)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if on_missing not in ("raise", "skip"):
            raise ValueError(f"unknown on_missing {on_missing!r}; valid: 'raise', 'skip'")
        self.hard_negatives = check_kinds(hard_negatives)
        # eval_data keeps its own hyperparameters; a tagger (e.g. a large PreTagged) stays out of checkpoints
        self.save_hyperparameters(ignore=["eval_data", "tagger"])
        self.tagger = tagger
        self.attribute_vocabulary = (
            DEFAULT_ATTRIBUTES if attribute_vocabulary is None else attribute_vocabulary
        )
        self.negatives: HardNegatives | None = None
        self.hard_negative_fallbacks = 0
        self.hard_negatives_served = 0
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
            self.negatives = self._hard_negatives()
            self.train_set = CaptionPairDataset(
                self.captions.records, self.train_transform, name, negatives=self.negatives
            )
        if self.eval_data is not None:
            self.eval_data.setup(stage)

    def _hard_negatives(self) -> HardNegatives | None:
        """The maker of the ``negative_j`` columns (tagger loaded now, so a missing spaCy fails here)."""
        if not self.hard_negatives:
            return None
        negatives = HardNegatives(
            self.hard_negatives,
            tagger=self.tagger if self.tagger is not None else SpacyTagger(),
            seed=self.seed,
            attribute_vocabulary=self.attribute_vocabulary,
        )
        load = getattr(negatives.tagger, "load", None) if negatives.needs_tags else None
        if callable(load):
            load()
        return negatives

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Count the fallback negatives of a training batch (``negative_fallback`` [B, k]) as it is trained."""
        if isinstance(batch, dict) and "negative_fallback" in batch:
            flags = batch["negative_fallback"]  # [B, k] bool
            self.hard_negative_fallbacks += int(flags.sum())
            self.hard_negatives_served += int(flags.numel())
        return batch

    @property
    def hard_negative_fallback_rate(self) -> float:
        """``hard_negative_fallbacks / hard_negatives_served`` (0 before any batch)."""
        return (
            self.hard_negative_fallbacks / self.hard_negatives_served if self.hard_negatives_served else 0.0
        )

    def teardown(self, stage: str) -> None:
        """Log how many hard negatives came from a fallback (after fit)."""
        if stage == "fit" and self.hard_negatives_served:
            log.info(
                "hard negatives %s: %d of %d (%.1f%%) came from a fallback",
                list(self.hard_negatives),
                self.hard_negative_fallbacks,
                self.hard_negatives_served,
                100 * self.hard_negative_fallback_rate,
            )

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
