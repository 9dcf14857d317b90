"""LightningDataModule of the procedural world: ID captions for training, ID + shifts for robustness evals.

In ``mcq`` mode every eval set is asked as K-way multiple-choice questions over its images (built with
``vlmrobust.data.mcq.world.build_world_mcq``, shape-family ``hierarchy`` or ``random`` distractors).
With ``corruptions``, the ID images with ImageNet-C corruptions are a family of shifts of their own
(``world/c/<corruption>/<severity>``, ``vlmrobust.data.corruptions``; the ``corruptions`` extra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.corruptions import (
    CachedCorruptedDataset,
    CorruptedDataset,
    CorruptionName,
    cache_corrupted,
    check_corruption,
    corrupted_info,
)
from vlmrobust.data.corruptions.library import imagecorruptions
from vlmrobust.data.datamodules.benchmarks import BenchmarksDataModule, BenchmarkSet
from vlmrobust.data.datamodules.resumable import ResumableTrainData
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.mcq.dataset import MCQDataset
from vlmrobust.data.mcq.world import build_world_mcq
from vlmrobust.data.world.classes import CLASS_NAMES
from vlmrobust.data.world.datasets import (
    CaptionDataset,
    ImageTransform,
    LabelledDataset,
    SceneDataset,
    collate_captions,
    collate_scenes,
    to_tensor,
)
from vlmrobust.data.world.domains import SHIFTS
from vlmrobust.data.world.generator import ProceduralWorld


class WorldDataModule(ResumableTrainData, LightningDataModule):
    """Procedural-world data: captioned ID images for training; labelled ID and shifted images for evaluation.

    ``val_dataloader()`` and ``test_dataloader()`` both return ``[id, *shifts, *corrupted, *benchmarks]``
    loaders over the eval split, in the order of :attr:`eval_sets`. Images are float tensors
    (:func:`to_tensor`) until a LightningModule replaces the transforms with its model's preprocessing via
    :meth:`set_image_transforms` (effective even after setup); a dataset whose ``transform`` is set to
    ``None`` yields PIL images (for VLMs).

    Args:
        seed: world seed; every image and caption is a pure function of (seed, domain, split, index).
        train_size: number of captioned ID training images.
        eval_size: number of labelled images in each eval set (ID and every shift).
        image_size: image side in pixels (32 to 64 intended).
        shifts: shift domains to evaluate, in this order (default: all of ``SHIFTS``).
        batch_size: training batch size.
        eval_batch_size: batch size of the eval loaders.
        num_workers: DataLoader worker processes (persistent when > 0).
        templates: zero-shot prompt templates, ``"{}"`` standing for the class name.
        cache_images: keep generated images in memory (about 3 KB each at 32 px) across epochs.
        mode: ``classification`` (class label per image) or ``mcq`` (K-way questions per eval set).
        mcq_strategy: distractors in ``mcq`` mode: ``hierarchy`` (same shape family first) or ``random``.
        mcq_num_options: K, options per question in ``mcq`` mode.
        mcq_seed: seed of the distractors and option order in ``mcq`` mode (every image is asked).
        train_data: ``objects`` (one captioned shape per image) or ``scenes`` (two-object scenes whose items
            also carry ``relation_negative``, ``swapped_objects``, ``relation_positive``, ``attribute_*``: the
            hard negatives and positives of NegCLIP / HP+HN training).
        benchmarks: the world's compositional sets to evaluate after the classification sets
            (``whatsup-world``, ``aro-world-relation``, ``aro-world-attribution``): two-object scenes written in
            the official What'sUp / ARO formats under ``benchmark_dir`` and read by the official-format readers
            (``BenchmarksDataModule``).
        benchmark_pairs: object pairs of ``whatsup-world`` (four images each); each ARO set has four times as
            many scenes.
        benchmark_dir: folder the benchmark files are written to (once per seed and size).
        corruptions: ImageNet-C corruptions of the ID eval images to evaluate after the shifts, each at every
            severity of ``severities``: sets ``world/c/<corruption>/<severity>`` paired with ``world/id``
            (in ``mcq`` mode asked with the ID set's questions). Needs ``vlmrobust-data[corruptions]``.
        severities: corruption severities (1-5), in this order.
        corruption_seed: seed of the corruption draws (each image's draws are a function of it, the
            corruption and the image's sample id).
        corruption_cache_dir: write every corrupted set once to WebDataset shards in this folder and read it
            from there (``cache_corrupted``; for slow corruptions such as ``glass_blur``); ``None``: corrupt
            on the fly.

    Attributes:
        eval_datasets: the datasets behind ``val_dataloader()``, in the order of :attr:`eval_sets` (after
            ``setup``): ``LabelledDataset`` s, then ``CorruptedDataset`` s (``CachedCorruptedDataset`` s with
            ``corruption_cache_dir``), or ``MCQDataset`` s over them in ``mcq`` mode.
    """

    def __init__(
        self,
        seed: int = 0,  # world seed: every image/caption is a pure function of (seed, domain, split, index)
        train_size: int = 2000,  # number of captioned ID training images
        eval_size: int = 500,  # number of labelled images in each eval set (ID and every shift)
        image_size: int = 32,  # image side in pixels (32-64 intended)
        shifts: Sequence[str] = SHIFTS,  # shift domains to evaluate, in this order (default: all)
        batch_size: int = 64,  # training batch size
        eval_batch_size: int = 256,  # batch size of the eval loaders
        num_workers: int = 0,  # DataLoader worker processes (persistent when > 0)
        templates: Sequence[str] = ("a photo of a {}.",),  # zero-shot prompt templates, "{}" = class name
        cache_images: bool = True,  # keep generated images in memory (~3 KB each at 32 px) across epochs
        mode: Literal["classification", "mcq"] = "classification",  # plain labels or K-way questions
        mcq_strategy: Literal["random", "hierarchy"] = "hierarchy",  # distractors in mcq mode
        mcq_num_options: int = 5,  # K, options per question in mcq mode
        mcq_seed: int = 0,  # seed of distractors and option order in mcq mode
        train_data: Literal["objects", "scenes"] = "objects",  # captioned objects, or two-object scenes
        benchmarks: Sequence[Literal["whatsup-world", "aro-world-relation", "aro-world-attribution"]] = (),
        benchmark_pairs: int = 25,  # object pairs of whatsup-world (x4 images); ARO sets: x4 scenes
        benchmark_dir: str = "outputs/world_benchmarks",  # where the benchmark files are written
        corruptions: Sequence[CorruptionName] = (),  # ImageNet-C corruptions of the ID eval images
        severities: Sequence[int] = (3,),  # severities (1-5) of every corruption
        corruption_seed: int = 0,  # seed of the corruption draws (with each image's sample id)
        corruption_cache_dir: str | None = None,  # cache corrupted sets as shards here; None: on the fly
    ) -> None:
        super().__init__()
        for name in shifts:
            if name not in SHIFTS:
                raise ValueError(f"Unknown world shift {name!r}. {did_you_mean(name, SHIFTS, 'shifts')}")
        if len(set(shifts)) != len(shifts):
            raise ValueError(f"world shifts must be distinct, got {list(shifts)}")
        for t in templates:
            if "{}" not in t:
                raise ValueError(f"prompt template {t!r} has no '{{}}' placeholder for the class name")
        for key, value in (("train_size", train_size), ("eval_size", eval_size), ("batch_size", batch_size)):
            if value < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        if train_data not in ("objects", "scenes"):
            raise ValueError(f"unknown train_data {train_data!r}; valid: 'objects', 'scenes'")
        if mode not in ("classification", "mcq"):
            raise ValueError(f"unknown mode {mode!r}; valid: 'classification', 'mcq'")
        if mcq_strategy not in ("random", "hierarchy"):
            raise ValueError(f"unknown world mcq_strategy {mcq_strategy!r}; valid: 'hierarchy', 'random'")
        if not 2 <= mcq_num_options <= len(CLASS_NAMES):
            raise ValueError(f"mcq_num_options must be in 2..{len(CLASS_NAMES)}, got {mcq_num_options}")
        for name in corruptions:
            for severity in severities:
                check_corruption(name, severity)
        for key, values in (("corruptions", corruptions), ("severities", severities)):
            if len(set(values)) != len(values):
                raise ValueError(f"world {key} must be distinct, got {list(values)}")
        if corruptions:
            imagecorruptions()  # a missing corruptions extra fails at configuration time
        self.save_hyperparameters()
        self.seed, self.train_size, self.eval_size = seed, train_size, eval_size
        self.shifts, self.templates = list(shifts), list(templates)
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.cache_images = cache_images
        self.mode, self.mcq_strategy, self.mcq_num_options, self.mcq_seed = (
            mode, mcq_strategy, mcq_num_options, mcq_seed
        )  # fmt: skip
        self.corruptions = [(name, severity) for name in corruptions for severity in severities]
        self.corruption_seed, self.corruption_cache_dir = corruption_seed, corruption_cache_dir
        self.world = ProceduralWorld(seed, image_size)
        self.train_transform: ImageTransform | None = to_tensor
        self.eval_transform: ImageTransform | None = to_tensor
        self.train_data = train_data
        self.train_set: CaptionDataset | SceneDataset | None = None
        self.eval_datasets: list[Dataset] = []
        self.benchmarks = (
            BenchmarksDataModule([BenchmarkSet(name) for name in benchmarks], eval_batch_size, num_workers,
                                 world_seed=seed, world_pairs=benchmark_pairs, world_image_size=image_size,
                                 world_dir=benchmark_dir)
            if benchmarks else None
        )  # fmt: skip

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names in label order."""
        return CLASS_NAMES

    @property
    def eval_domains(self) -> list[str]:
        """Domains of the eval sets, in loader order: ``["id", *shifts]``."""
        return ["id", *self.shifts]

    @property
    def eval_sets(self) -> list[EvalSetInfo]:
        """Metadata of the eval sets, in the order of ``val_dataloader()`` (``task="mcq"`` in ``mcq`` mode,
        where every image is asked once, so ``num_samples`` is ``eval_size`` either way)."""
        domains = [self._info(d, self.mode) for d in self.eval_domains]
        corrupted = [corrupted_info(domains[0], name, severity) for name, severity in self.corruptions]
        return domains + corrupted + (self.benchmarks.eval_sets if self.benchmarks is not None else [])

    def _info(self, domain: str, task: Literal["classification", "mcq"]) -> EvalSetInfo:
        return EvalSetInfo(
            name=f"world/{domain}",
            class_names=CLASS_NAMES,
            templates=tuple(self.templates),
            id_set=None if domain == "id" else "world/id",
            num_samples=self.eval_size,
            task=task,
            num_options=self.mcq_num_options if task == "mcq" else None,
        )

    def setup(self, stage: str | None = None) -> None:
        """Build the datasets (cheap: images are drawn on access)."""
        if self.train_set is None:
            cache = self.cache_images
            if self.train_data == "scenes":  # captions with their hard negatives and positives
                self.train_set = SceneDataset(
                    self.world, "train", self.train_size, self.train_transform, cache
                )
            else:
                self.train_set = CaptionDataset(
                    self.world, "id", "train", self.train_size, self.train_transform, cache
                )
            labelled = [
                LabelledDataset(self.world, d, "eval", self.eval_size, self.eval_transform, cache)
                for d in self.eval_domains
            ]
            corrupted = [self._corrupted(labelled[0], name, severity) for name, severity in self.corruptions]
            if self.mode == "classification":
                self.eval_datasets = [*labelled, *corrupted]
            else:
                mcq = [self._mcq(ds) for ds in labelled]
                id_questions = mcq[0].questions  # corrupted images are asked the ID set's questions
                self.eval_datasets = [*mcq, *(MCQDataset(ds, id_questions) for ds in corrupted)]
            if self.benchmarks is not None:
                self.benchmarks.set_image_transforms(self.train_transform, self.eval_transform)
                self.benchmarks.setup()
                self.eval_datasets += self.benchmarks.eval_datasets

    def _corrupted(
        self, images: LabelledDataset, name: CorruptionName, severity: int
    ) -> CorruptedDataset | CachedCorruptedDataset:
        info = self._info("id", "classification")  # of the images (an mcq set wraps them in questions)
        dataset = CorruptedDataset(images, name, severity, self.corruption_seed, info, self.cache_images)
        if self.corruption_cache_dir is None:
            return dataset
        source = {"world_seed": self.seed, "image_size": self.world.image_size}
        return cache_corrupted(dataset, self.corruption_cache_dir, source=source)

    def _mcq(self, dataset: LabelledDataset) -> MCQDataset:
        bench = build_world_mcq(
            dataset, self.mcq_strategy, num_options=self.mcq_num_options, seed=self.mcq_seed
        )
        return MCQDataset(dataset, bench.questions)

    def set_image_transforms(self, train: ImageTransform, eval: ImageTransform) -> None:
        """Use ``train`` for training images and ``eval`` for eval images (also on already built datasets)."""
        self.train_transform, self.eval_transform = train, eval
        if self.train_set is not None:
            self.train_set.transform = train
        for ds in self.eval_datasets:
            ds.transform = eval
        if self.benchmarks is not None:
            self.benchmarks.set_image_transforms(train, eval)

    def _loader(self, dataset: Dataset, batch_size: int, shuffle: bool, **kwargs: Any) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            **kwargs,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled ID image-caption batches; ``caption`` stays a list of strings. Epoch ``e``'s order and
        every item's augmentation are seeded by (``seed``, ``e``), and a resumed fit continues the epoch where
        its checkpoint stopped (``ResumableTrainData``). With ``train_data="scenes"`` each item also carries
        its hard negatives and positives (``SceneDataset``)."""
        self.setup()
        collate = collate_scenes if self.train_data == "scenes" else collate_captions
        return self.resumable_loader(self.train_set, self.batch_size, self.seed, collate, num_workers=self.num_workers,
                                     persistent_workers=self.num_workers > 0)  # fmt: skip

    def val_dataloader(self) -> list[DataLoader]:
        """Loaders of the eval sets ``[id, *shifts, *corrupted, *benchmarks]`` (not shuffled)."""
        self.setup()
        n = len(self.eval_domains) + len(self.corruptions)
        loaders = [self._loader(ds, self.eval_batch_size, False) for ds in self.eval_datasets[:n]]
        return loaders + (self.benchmarks.val_dataloader() if self.benchmarks is not None else [])

    def test_dataloader(self) -> list[DataLoader]:
        """Same loaders as :meth:`val_dataloader` (the world's eval split is its test split)."""
        return self.val_dataloader()
