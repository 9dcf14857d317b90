"""LightningDataModule of the compositional benchmarks: What'sUp, COCO/GQA-spatial, ARO, hard positives,
MMVP, MMVP-VLM and COCO/Flickr30k retrieval, read from their official files (``vlmrobust.data.benchmarks``).

It only evaluates (``val_dataloader`` / ``test_dataloader``), so ``vlmrobust eval`` runs it directly and a
training DataModule can add its sets to its own (``WorldDataModule(benchmarks=...)`` and
``CaptionsDataModule(eval_data=...)`` delegate to one). The procedural world's sets are written in the
official What'sUp / ARO formats under ``world_dir`` (once per seed and size) and read back by the same readers.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

from vlmrobust.data.benchmarks import WORLD_SETS, BenchmarkName, ReadArgs, get_benchmark
from vlmrobust.data.collate import eval_collate
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet.samples import OnError
from vlmrobust.data.world.datasets import to_tensor


@dataclass(frozen=True)
class BenchmarkSet:
    """One benchmark to serve.

    Attributes:
        name: the benchmark (``vlmrobust list evalsets`` lists them).
        path: its official file or folder (see the list); ignored for the world's sets.
        image_root: the folder its images are found from (see ``vlmrobust list evalsets``; default: ``path``
            itself for a folder, else the folder of ``path``).
    """

    name: BenchmarkName
    path: str | None = None
    image_root: str | None = None


class BenchmarksDataModule(LightningDataModule):
    """Compositional benchmarks as eval sets (see the module docstring).

    Args:
        sets: the benchmarks, in the order of ``eval_sets``.
        eval_batch_size: items per eval batch.
        num_workers: DataLoader worker processes.
        on_missing: a missing image file is an error (``raise``) or a counted skip (``skip``).
        order_seed: seed of ARO's COCO/Flickr-Order shuffles (the official code seeds 1).
        order_tagger: part-of-speech tagger of the Order shuffles (default: spaCy ``en_core_web_sm``).
        world_seed: seed of the world's benchmark scenes.
        world_pairs: object pairs of ``whatsup-world`` (four images each) and scenes of each ``aro-world-*``
            set (times four).
        world_image_size: side of the world's scene images.
        world_dir: folder the world's sets are written to (one subfolder per seed and size).
    """

    def __init__(
        self,
        sets: Sequence[BenchmarkSet],  # the benchmarks, in eval_sets order
        eval_batch_size: int = 64,  # items per eval batch
        num_workers: int = 0,  # DataLoader worker processes
        on_missing: OnError = "raise",  # a missing image: error or counted skip
        order_seed: int = 1,  # seed of the COCO/Flickr-Order shuffles (official: 1)
        order_tagger: Any = None,  # POS tagger of the Order shuffles (None: spaCy en_core_web_sm)
        world_seed: int = 0,  # seed of the world's benchmark scenes
        world_pairs: int = 50,  # object pairs of whatsup-world (x4 images); aro-world-* scenes = x4
        world_image_size: int = 64,  # side of the world's scene images
        world_dir: str = "outputs/world_benchmarks",  # where the world's sets are written
    ) -> None:
        super().__init__()
        if not sets:
            raise ValueError("BenchmarksDataModule needs at least one set")
        names = [s.name for s in sets]
        if len(set(names)) != len(names):
            raise ValueError(f"a benchmark is listed twice: {names}")
        for s in sets:
            get_benchmark(s.name)  # unknown names fail here, with suggestions
            if s.name not in WORLD_SETS and s.path is None:
                raise ValueError(f"benchmark {s.name!r} needs path= ({get_benchmark(s.name).path})")
        self.sets = list(sets)
        self.eval_batch_size, self.num_workers, self.on_missing = eval_batch_size, num_workers, on_missing
        self.order_seed, self.order_tagger = order_seed, order_tagger
        self.world_seed, self.world_pairs, self.world_image_size = world_seed, world_pairs, world_image_size
        self.world_dir = world_dir
        self.eval_transform: Callable[[Any], Any] | None = to_tensor
        #: The datasets behind ``val_dataloader()``, in the order of ``eval_sets`` (filled by ``setup``).
        self.eval_datasets: list[Dataset] = []

    def setup(self, stage: str | None = None) -> None:
        """Read every set once (images are opened lazily)."""
        if self.eval_datasets:
            return
        tagger = self.order_tagger
        if tagger is None and any(s.name.endswith("-order") for s in self.sets):
            from vlmrobust.data.perturb import spacy_tagger

            tagger = spacy_tagger()
        for s in self.sets:
            if s.name in WORLD_SETS:
                path, image_root = self._world_files(s.name)
            else:
                path = Path(s.path)
                image_root = (
                    Path(s.image_root)
                    if s.image_root is not None
                    else (path if path.is_dir() else path.parent)
                )
            args = ReadArgs(path, image_root, self.on_missing, self.order_seed, tagger)
            dataset = get_benchmark(s.name).read(args)
            if dataset.info.name != s.name:  # the world's ARO copies: the reader names the official set
                dataset.info = dataclasses.replace(dataset.info, name=s.name)
            dataset.transform = self.eval_transform
            self.eval_datasets.append(dataset)

    def _world_files(self, name: str) -> tuple[Path, Path]:
        """The world set's official file and image root, written first if absent (into a temporary folder,
        then renamed, so a killed job never leaves a partial set behind)."""
        from vlmrobust.data.world.benchmarks import write_world_aro, write_world_whatsup

        kind = "whatsup" if name == "whatsup-world" else "aro"
        folder = (
            Path(self.world_dir)
            / f"{kind}-seed{self.world_seed}-n{self.world_pairs}-px{self.world_image_size}"
        )
        if not folder.is_dir():
            tmp = folder.with_name(folder.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            if kind == "whatsup":
                write_world_whatsup(tmp, self.world_seed, self.world_pairs, image_size=self.world_image_size)
            else:
                write_world_aro(tmp, self.world_seed, 4 * self.world_pairs, image_size=self.world_image_size)
            tmp.rename(folder)
        if name == "whatsup-world":
            return folder / "controlled_world_dataset.json", folder / "controlled_world"
        file = (
            "visual_genome_relation.json"
            if name == "aro-world-relation"
            else "visual_genome_attribution.json"
        )
        return folder / file, folder

    @property
    def eval_sets(self) -> list[EvalSetInfo]:
        """Metadata of the sets, in the order of ``val_dataloader()`` (sets itself up on first use)."""
        self.setup()
        return [ds.info for ds in self.eval_datasets]

    def set_image_transforms(self, train: Callable[[Any], Any], eval: Callable[[Any], Any]) -> None:
        """Use ``eval`` for every image (``train`` is unused: this module only evaluates)."""
        self.eval_transform = eval
        for ds in self.eval_datasets:
            ds.transform = eval

    def val_dataloader(self) -> list[DataLoader]:
        """One loader per set, in the order of ``eval_sets`` (not shuffled; texts and meta kept as lists)."""
        self.setup()
        workers = self.num_workers
        return [DataLoader(ds, self.eval_batch_size, shuffle=False, num_workers=workers, collate_fn=eval_collate,
                           persistent_workers=workers > 0) for ds in self.eval_datasets]  # fmt: skip

    def test_dataloader(self) -> list[DataLoader]:
        """Same loaders as :meth:`val_dataloader`."""
        return self.val_dataloader()
