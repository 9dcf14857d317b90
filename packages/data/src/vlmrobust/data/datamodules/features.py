"""LightningDataModule of cached frozen features: another DataModule's images, encoded once, for probes.

The source DataModule (the world, ImageNet with its shifts, COCO …) provides the images and the eval sets;
the encoder (``vlmrobust.models.features.ImageEncoder``, or anything with ``identity``, ``preprocess`` and
``encode``) turns them into features, cached under ``cache_dir/<encoder hash>/<set>/`` by
``vlmrobust.data.features.build_cache`` on first use (rank 0; sharded and resumable). Batches then hold
``features`` [B, D] and the source items' numeric fields (``label``, ``options``, ``answer`` …).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader

from vlmrobust.data.datamodules.resumable import ResumableTrainData
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.features import CachedFeatures, FeatureEncoder, build_cache


class FeatureDataModule(ResumableTrainData, LightningDataModule):
    """Cached features of ``source``'s training set and eval sets.

    Args:
        source: the DataModule whose images are encoded (it needs ``train_set``, ``eval_datasets``,
            ``eval_sets`` and ``set_image_transforms``, as the world's and the captions' DataModules have).
        encoder: the frozen encoder of the features.
        cache_dir: root folder of the caches (one subfolder per encoder identity).
        batch_size: training batch size.
        eval_batch_size: batch size of the eval loaders.
        encode_batch_size: images per encoder call while caching.
        shard_size: items per cache shard.
        num_workers: DataLoader worker processes (for the source's images while caching, and the loaders).
        seed: seed of the training shuffle.
        train_subset: train on ``train_subset`` cached items drawn by ``seed`` (``None``: all), so a sweep over
            the training-set size shares one cache; the subsets of one seed are nested.
    """

    def __init__(
        self,
        source: LightningDataModule,  # the DataModule whose images are encoded
        encoder: FeatureEncoder,  # the frozen encoder (vlmrobust.models.features.ImageEncoder)
        cache_dir: str = "outputs/features",  # root folder of the caches
        batch_size: int = 256,  # training batch size
        eval_batch_size: int = 1024,  # eval batch size
        encode_batch_size: int = 256,  # images per encoder call while caching
        shard_size: int = 4096,  # items per cache shard
        num_workers: int = 0,  # DataLoader workers
        seed: int = 0,  # seed of the training shuffle
        train_subset: int | None = None,  # N training items drawn by seed (None: all)
    ) -> None:
        super().__init__()
        if train_subset is not None and train_subset < 1:
            raise ValueError(f"train_subset must be >= 1 (or None), got {train_subset}")
        self.source, self.encoder = source, encoder
        self.root = Path(cache_dir) / hashlib.sha256(encoder.identity.encode()).hexdigest()[:16]
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.encode_batch_size, self.shard_size, self.num_workers = encode_batch_size, shard_size, num_workers
        self.seed, self.train_subset = seed, train_subset
        self.train_set: torch.utils.data.Dataset | None = None
        self.eval_datasets: list[CachedFeatures] = []

    @property
    def eval_sets(self) -> list[EvalSetInfo]:
        """The source's eval sets, in loader order."""
        return list(self.source.eval_sets)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The source's class names (the classes of the training labels)."""
        return tuple(self.source.class_names)

    @property
    def feature_dim(self) -> int:
        """D of the cached features (after ``setup``)."""
        if not self.eval_datasets and self.train_set is None:
            raise RuntimeError("FeatureDataModule.feature_dim is known after setup()")
        first = self.eval_datasets[0] if self.eval_datasets else self.train_set
        return int(first[0]["features"].shape[0])

    def _folder(self, name: str) -> Path:
        return self.root / name.replace("/", "__")

    def prepare_data(self) -> None:
        """Build the missing caches (Lightning calls this on one process per node before ``setup``)."""
        self.source.set_image_transforms(self.encoder.preprocess, self.encoder.preprocess)
        self.source.setup("fit")
        for name, dataset in self._sources():
            build_cache(self._folder(name), dataset, self.encoder, self.shard_size, self.encode_batch_size,
                        self.num_workers)  # fmt: skip

    def _sources(self) -> list[tuple[str, Any]]:
        train = getattr(self.source, "train_set", None)
        named = [("train", train)] if train is not None else []
        return named + [
            (info.name, ds) for info, ds in zip(self.eval_sets, self.source.eval_datasets, strict=True)
        ]

    def setup(self, stage: str | None = None) -> None:
        """Open the caches (memory-mapped)."""
        if self.eval_datasets:
            return
        self.source.setup("fit")
        sources = dict(self._sources())
        if "train" in sources:
            train = CachedFeatures(self._folder("train"), sources["train"])
            self.train_set = torch.utils.data.Subset(train, self._subset(len(train)))
        self.eval_datasets = [CachedFeatures(self._folder(i.name), sources[i.name]) for i in self.eval_sets]

    def _subset(self, size: int) -> list[int]:
        """The training items: all, or ``train_subset`` of them drawn by ``seed`` (sorted; the subsets of one
        seed are nested, so a larger training set contains every smaller one, and a class-sorted source such
        as ImageNet train is sampled across all classes)."""
        if self.train_subset is None or self.train_subset >= size:
            return list(range(size))
        order = torch.randperm(size, generator=torch.Generator().manual_seed(self.seed))
        return sorted(order[: self.train_subset].tolist())

    def set_image_transforms(self, train: Any, eval: Any) -> None:
        """No-op: the images were encoded with the encoder's own preprocessing."""

    def train_dataloader(self) -> DataLoader:
        """Shuffled batches of cached training features (seeded by epoch; resumable mid-epoch)."""
        self.setup()
        if self.train_set is None:
            raise AttributeError(f"{type(self.source).__name__} has no train_set to train a probe on")
        return self.resumable_loader(self.train_set, self.batch_size, self.seed, num_workers=self.num_workers)

    def val_dataloader(self) -> list[DataLoader]:
        """Loaders of the cached eval sets, in the order of :attr:`eval_sets`."""
        self.setup()
        return [DataLoader(ds, batch_size=self.eval_batch_size, num_workers=self.num_workers)
                for ds in self.eval_datasets]  # fmt: skip

    def test_dataloader(self) -> list[DataLoader]:
        """Same as :meth:`val_dataloader`."""
        return self.val_dataloader()
