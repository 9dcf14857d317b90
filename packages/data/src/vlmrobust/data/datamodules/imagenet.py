"""LightningDataModule serving ImageNet val plus its natural shifts as robustness eval sets, and ImageNet
train for the training recipes.

``val_dataloader()`` returns one loader per eval set, in the order of :attr:`eval_sets`: ImageNet val,
then for every configured shift its paired ID set (val restricted to the shift's classes, for the
200-class ImageNet-R/-A and 113-class ObjectNet; shared when two shifts have the same classes) followed
by the shift itself, whose ``id_set`` names that ID set (val itself for 1000-class shifts), then every
corruption x severity of the configured corruption families (ImageNet-C, ImageNet-3DCC), each its own set
``<family>/<corruption>/<severity>`` paired with val. In ``mcq``
mode every set is asked as K-way multiple-choice questions (built by seed, or read from ``mcq_dir``), and
ImageNet val uses the clean labels of Kisel et al. by default, as ``vlmrobust build-mcq`` does. With
``train_root``, ``train_dataloader()`` serves shuffled, resumable batches of ImageNet-1k train.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.datamodules.resumable import ResumableTrainData
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet import metadata
from vlmrobust.data.imagenet.corruptions import (
    FAMILIES,
    SEVERITIES,
    check_corruption,
    check_severity,
    corruption_sets,
)
from vlmrobust.data.imagenet.dataset import ImageNetEvalDataset, eval_set_info
from vlmrobust.data.imagenet.restrict import pair_with_val
from vlmrobust.data.imagenet.samples import ImageSet, OnError, imagenet_1k_classes
from vlmrobust.data.imagenet.train import read_imagenet_train
from vlmrobust.data.imagenet.val import LabelSource, read_imagenet_val
from vlmrobust.data.mcq.builder import build_mcq
from vlmrobust.data.mcq.confusion import ConfusionSource, read_rankings
from vlmrobust.data.mcq.dataset import MCQDataset
from vlmrobust.data.mcq.io import benchmark_stem, read_benchmark
from vlmrobust.data.registry import get_reader, list_evalsets

ImageTransform = Callable[[Image.Image], torch.Tensor]
#: The ImageNet shifts this module reads (from ``vlmrobust.data.registry``), in table order.
SHIFTS: tuple[str, ...] = tuple(e.name for e in list_evalsets("imagenet") if e.id_set is not None)


class ResizeCenterCrop:
    """Default image transform: resize the short side to ``size``, centre-crop ``size`` x ``size``,
    and return a float ``(3, size, size)`` tensor in [0, 1] (a model's own preprocessing replaces it)."""

    def __init__(self, size: int = 224) -> None:
        self.size = size

    def __call__(self, image: Image.Image) -> torch.Tensor:
        w, h = image.size
        scale = self.size / min(w, h)
        image = image.convert("RGB").resize(
            (max(self.size, round(w * scale)), max(self.size, round(h * scale)))
        )
        w, h = image.size
        left, top = (w - self.size) // 2, (h - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        arr = np.asarray(image, dtype=np.uint8)  # (H, W, 3)
        return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)  # (3, H, W)


class ImageNetDataModule(ResumableTrainData, LightningDataModule):
    """ImageNet val and its natural shifts as eval sets, for plain classification or MCQ; with ``train_root``,
    ImageNet-1k train for training.

    Training batches are ``{"image" [B, 3, H, W], "label" [B] (IN-1k index), "index" [B]}``, shuffled by
    (``seed``, epoch), each item's augmentation seeded, and a resumed fit continues its epoch
    (``ResumableTrainData``). Train images use ``train_transform`` (``ResizeCenterCrop(image_size)`` until
    ``set_image_transforms`` gives a model's training preprocessing). :attr:`class_names` are the 1000 IN-1k
    names in label order, whatever folders the train set holds.

    Args:
        val_root: ImageNet val (wnid folders, flat + devkit, or the Kaggle folder).
        shifts: shift name -> folder; names from ``SHIFTS`` (loader order follows this mapping).
        corruptions: corruption family (``imagenet-c``, ``3dcc``) -> its folder (holding one folder per
            corruption); its sets come after the shifts, family by family in this mapping's order.
        corruption_names: corruptions read from every family of ``corruptions``, in this order (each must
            be one of every family's); ``None``: each family's standard list (ImageNet-C's 15, 3DCC's 12).
        severities: severities read for every corruption (each in 1..5; every folder must exist).
        val_labels: val label source: ``original``, ``clean`` (Kisel et al.) or ``real``; ``None``: clean in
            ``mcq`` mode (as ``vlmrobust build-mcq``), original in ``classification`` mode.
        val_label_file: ``clean_validation.csv`` / ``real.json`` when the val labels are not original.
        paired_id: also serve val restricted to each subset shift's classes (the shift's ID set).
        mode: ``classification`` (class label per image) or ``mcq`` (K-way questions).
        mcq_strategy: distractor strategy in ``mcq`` mode (``visual`` needs ``mcq_dir``).
        mcq_num_options: K in ``mcq`` mode.
        mcq_num_questions: questions per eval set in ``mcq`` mode (``None``: every image).
        mcq_seed: seed of the questions in ``mcq`` mode.
        mcq_dir: folder of prebuilt benchmark files (``vlmrobust build-mcq`` names); ``None`` builds them.
        mcq_confusion: for ``mcq_strategy="confusion"`` (holistic §IX), the selection model whose stored
            per-sample rankings give each image's distractors (its most confident wrong classes).
        templates: zero-shot prompt templates (``"{}"`` = class name); default the 80 OpenAI templates.
        image_size: side of the default eval transform (until ``set_image_transforms`` replaces it).
        eval_batch_size: batch size of the eval loaders.
        num_workers: DataLoader worker processes (persistent when > 0).
        on_error: bad input in a dataset folder: ``raise`` or ``skip`` (counted and logged).
        train_root: ImageNet-1k train (``train/`` with the 1000 wnid folders, a folder holding it, or the
            Kaggle folder); ``None``: no training data (eval only).
        batch_size: training batch size (per device).
        seed: seed of the training shuffle and of every item's augmentation.
        samples_per_class: train on the first N images of each class (sorted file names); ``None``: all.

    Attributes:
        eval_datasets: the datasets behind ``val_dataloader()``, in the order of :attr:`eval_sets` (after
            ``setup``); an evaluation runner iterates them directly.
        image_sets: the indexed sets behind them, in the same order.
        train_set: the training dataset (after ``setup("fit")`` with ``train_root``; else ``None``).
    """

    def __init__(
        self,
        val_root: str,  # ImageNet val folder (any of the three official layouts)
        shifts: Mapping[str, str]
        | None = None,  # shift name -> folder, e.g. {"imagenet-r": "/data/imagenet-r"}
        corruptions: Mapping[str, str]
        | None = None,  # corruption family -> folder, e.g. {"imagenet-c": "/data/ImageNet-C"}
        corruption_names: Sequence[str] | None = None,  # corruptions per family; None: its standard list
        severities: Sequence[int] = SEVERITIES,  # severities per corruption, each in 1..5
        val_labels: LabelSource | None = None,  # original, clean (Kisel et al.) or real; None: clean for mcq
        val_label_file: str | None = None,  # clean_validation.csv / real.json for clean / real labels
        paired_id: bool = True,  # serve val restricted to each subset shift's classes before the shift
        mode: Literal["classification", "mcq"] = "classification",  # plain labels or K-way questions
        mcq_strategy: Literal["random", "hierarchy", "visual", "confusion"] = "hierarchy",  # mcq distractors
        mcq_num_options: int = 5,  # K, options per question in mcq mode
        mcq_num_questions: int | None = 5000,  # questions per eval set in mcq mode (None: every image)
        mcq_seed: int = 0,  # seed of image selection, distractors and option order in mcq mode
        mcq_dir: str | None = None,  # prebuilt benchmark files (build-mcq names); None: build in memory
        mcq_confusion: ConfusionSource | None = None,  # selection model of the confusion strategy
        templates: Sequence[str] | None = None,  # prompt templates with "{}"; None: 80 OpenAI templates
        image_size: int = 224,  # side of the default eval transform (replaced by set_image_transforms)
        eval_batch_size: int = 256,  # batch size of the eval loaders
        num_workers: int = 0,  # DataLoader worker processes (persistent when > 0)
        on_error: OnError = "raise",  # bad input: raise, or skip and report the count
        train_root: str | None = None,  # ImageNet-1k train folder (train/<wnid>/...); None: eval only
        batch_size: int = 256,  # training batch size (per device)
        seed: int = 0,  # seed of the training shuffle and the per-item augmentations
        samples_per_class: int | None = None,  # first N train images per class (sorted names); None: all
    ) -> None:
        super().__init__()
        shifts = dict(shifts or {})
        for name in shifts:
            if name not in SHIFTS:
                raise ValueError(f"unknown ImageNet shift {name!r}. {did_you_mean(name, SHIFTS, 'shifts')}")
        corruptions = dict(corruptions or {})
        for family in corruptions:
            if family not in FAMILIES:
                raise ValueError(
                    f"unknown corruption family {family!r}. {did_you_mean(family, FAMILIES, 'families')}"
                )
            for corruption in corruption_names or ():
                check_corruption(family, corruption)
        for severity in severities:
            check_severity(severity)
        if mode not in ("classification", "mcq"):
            raise ValueError(f"unknown mode {mode!r}; valid: 'classification', 'mcq'")
        if val_labels is None:
            val_labels = "clean" if mode == "mcq" else "original"
            if val_label_file is None and val_labels == "clean":
                raise ValueError(
                    "mcq mode uses the clean val labels of Kisel et al. by default (as `vlmrobust build-mcq`): "
                    "pass val_label_file= (clean_validation.csv), or val_labels='original' for the official labels"
                )
        if val_labels != "original" and val_label_file is None:
            raise ValueError(
                f"val_labels={val_labels!r} needs val_label_file= (clean_validation.csv or real.json)"
            )
        if mode == "mcq" and mcq_strategy == "visual" and mcq_dir is None:
            raise ValueError(
                "mcq_strategy 'visual' needs mcq_dir= with benchmarks built by `vlmrobust build-mcq`"
            )
        if mode == "mcq" and mcq_strategy == "confusion" and mcq_dir is None and mcq_confusion is None:
            raise ValueError(
                "mcq_strategy 'confusion' needs mcq_confusion= (results_db, model, protocol of the selection "
                "model) or mcq_dir= with benchmarks built by `vlmrobust build-mcq --strategy confusion`"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if samples_per_class is not None and samples_per_class < 1:
            raise ValueError(f"samples_per_class must be >= 1 (or None), got {samples_per_class}")
        for t in templates or ():
            if "{}" not in t:
                raise ValueError(f"prompt template {t!r} has no '{{}}' placeholder for the class name")
        self.save_hyperparameters()
        self.val_root, self.shifts = val_root, shifts
        self.corruptions, self.severities = corruptions, tuple(severities)
        self.corruption_names = None if corruption_names is None else tuple(corruption_names)
        self.val_labels, self.val_label_file, self.paired_id = val_labels, val_label_file, paired_id
        self.mode, self.mcq_strategy, self.mcq_num_options = mode, mcq_strategy, mcq_num_options
        self.mcq_num_questions, self.mcq_seed, self.mcq_dir = mcq_num_questions, mcq_seed, mcq_dir
        self.mcq_confusion = mcq_confusion
        self.templates = tuple(templates) if templates else metadata.clip_templates()
        self.eval_batch_size, self.num_workers, self.on_error = eval_batch_size, num_workers, on_error
        self.train_root, self.batch_size, self.seed = train_root, batch_size, seed
        self.samples_per_class = samples_per_class
        self.train_transform: ImageTransform | None = ResizeCenterCrop(image_size)
        self.eval_transform: ImageTransform = ResizeCenterCrop(image_size)
        self.train_set: ImageNetEvalDataset | None = None
        self.image_sets: list[ImageSet] = []
        #: The datasets behind ``val_dataloader()``, in the order of :attr:`eval_sets` (filled by ``setup``):
        #: ``ImageNetEvalDataset`` s, or ``MCQDataset`` s over them in ``mcq`` mode.
        self.eval_datasets: list[Dataset] = []

    def _read_sets(self) -> list[ImageSet]:
        val = read_imagenet_val(
            self.val_root, labels=self.val_labels, label_file=self.val_label_file, on_error=self.on_error
        )
        sets, names = [val], {val.name}
        for name, root in self.shifts.items():
            id_set, shift = pair_with_val(val, get_reader(name)(root, on_error=self.on_error))
            if self.paired_id and id_set.name not in names:
                sets.append(id_set)
                names.add(id_set.name)
            sets.append(shift)
        for family, root in self.corruptions.items():
            for corrupted in corruption_sets(
                root, family, self.corruption_names, self.severities, on_error=self.on_error
            ):
                sets.append(pair_with_val(val, corrupted)[1])
        return sets

    def _mcq(self, base: ImageNetEvalDataset) -> MCQDataset:
        image_set = base.image_set
        if self.mcq_dir is None:
            confusion = self.mcq_strategy == "confusion"
            bench = build_mcq(
                image_set, self.mcq_strategy, num_options=self.mcq_num_options,
                num_questions=self.mcq_num_questions, seed=self.mcq_seed,
                rankings=read_rankings(self.mcq_confusion, image_set.name) if confusion else None,
            )  # fmt: skip
            return MCQDataset(base, bench.questions)
        stem = benchmark_stem(image_set.name, self.mcq_strategy, self.mcq_num_options, self.mcq_seed)
        for suffix in (".jsonl", ".parquet"):
            path = Path(self.mcq_dir) / f"{stem}{suffix}"
            if path.is_file():
                return MCQDataset(base, read_benchmark(path))
        raise FileNotFoundError(f"{Path(self.mcq_dir) / stem}.jsonl: no benchmark file for {image_set.name}")

    def setup(self, stage: str | None = None) -> None:
        """Index every eval set (no image is opened) and build the eval datasets, once; for ``fit`` with
        ``train_root``, also the training set (once)."""
        if stage == "fit" and self.train_root is not None and self.train_set is None:
            train = read_imagenet_train(
                self.train_root, samples_per_class=self.samples_per_class, on_error=self.on_error
            )
            if not len(train):
                raise ValueError(f"{train.root}: no ImageNet train image to train on")
            self.train_set = ImageNetEvalDataset(train, self.train_transform)
        if self.eval_datasets:
            return
        self.image_sets = self._read_sets()
        for image_set in self.image_sets:
            base = ImageNetEvalDataset(image_set, self.eval_transform)
            self.eval_datasets.append(base if self.mode == "classification" else self._mcq(base))

    @property
    def eval_sets(self) -> list[EvalSetInfo]:
        """Metadata of the eval sets, in the order of ``val_dataloader()`` (sets itself up on first use).

        In ``mcq`` mode every set is ``task="mcq"`` with ``num_options=K``, one correct option and no
        classifier head columns; ``num_samples`` counts questions.
        """
        self.setup()
        infos = []
        for image_set, ds in zip(self.image_sets, self.eval_datasets, strict=True):
            info = dataclasses.replace(
                eval_set_info(image_set), templates=self.templates, num_samples=len(ds)
            )
            if self.mode == "mcq":
                info = dataclasses.replace(
                    info, task="mcq", num_options=self.mcq_num_options, multi_label=False,
                    head_names=None, head_to_class=None,
                )  # fmt: skip
            infos.append(info)
        return infos

    @property
    def class_names(self) -> tuple[str, ...]:
        """The 1000 IN-1k class names (OpenAI CLIP names) in label order: the classes of the training
        labels, the same names as the ``imagenet-val`` eval set's."""
        return imagenet_1k_classes().names

    def set_image_transforms(self, train: ImageTransform, eval: ImageTransform) -> None:
        """Use ``train`` for training images and ``eval`` for every eval image (also on already built
        datasets)."""
        self.train_transform, self.eval_transform = train, eval
        if self.train_set is not None:
            self.train_set.transform = train
        for ds in self.eval_datasets:
            ds.transform = eval

    def train_dataloader(self) -> DataLoader:
        """Shuffled ImageNet train batches, resumable mid-epoch (``ResumableTrainData``).

        Raises:
            ValueError: no ``train_root`` was given.
        """
        if self.train_root is None:
            raise ValueError(
                "ImageNetDataModule has no training data: pass train_root= (the ImageNet train folder, "
                "train/<wnid>/<wnid>_<n>.JPEG) to train on ImageNet"
            )
        self.setup("fit")
        workers = self.num_workers
        return self.resumable_loader(self.train_set, self.batch_size, self.seed, num_workers=workers,
                                     persistent_workers=workers > 0)  # fmt: skip

    def val_dataloader(self) -> list[DataLoader]:
        """One loader per eval set, in the order of :attr:`eval_sets` (not shuffled)."""
        self.setup()
        workers = self.num_workers
        return [
            DataLoader(
                ds, self.eval_batch_size, shuffle=False, num_workers=workers, persistent_workers=workers > 0
            )
            for ds in self.eval_datasets
        ]

    def test_dataloader(self) -> list[DataLoader]:
        """Same loaders as :meth:`val_dataloader`."""
        return self.val_dataloader()


__all__ = ["SHIFTS", "ImageNetDataModule", "ResizeCenterCrop"]
