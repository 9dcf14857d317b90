"""Exact mid-epoch resume of a training loader: an epoch-seeded sampler that can skip what a checkpoint
already trained on, and per-sample augmentation seeds.

A resumed run must see the same remaining batches, with the same random augmentations, as the run it
continues. Two things make that exact without saving iterator or RNG states:

* ``ResumableSampler`` draws epoch ``e``'s order as ``randperm(n)`` from a generator seeded with
  ``seed + e`` (a pure function of the epoch; epoch 0 equals a ``RandomSampler`` with that seed) and skips
  the samples of the batches a checkpoint already consumed;
* it yields ``(epoch, index)`` keys, and ``SeededView`` runs ``dataset[index]`` (its random transforms
  included) under a torch RNG seeded by ``(seed, epoch, index)``, so an item's augmentation does not
  depend on what ran before it, in the main process or in a worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for item ``index`` in ``epoch`` (stable across processes and Python versions)."""
    digest = hashlib.blake2b(f"{seed}/{epoch}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


class ResumableSampler(Sampler[tuple[int, int]]):
    """Shuffled ``(epoch, index)`` keys of ``size`` items; epoch ``e`` is ``randperm`` seeded ``seed + e``.

    ``len`` is always ``size`` (Lightning counts a resumed epoch's batches from the checkpoint's position
    on), while iterating an epoch started with ``skip`` yields only the items after the first ``skip``.

    Args:
        size: number of items.
        seed: seed of the shuffles.
        shuffle: shuffle (else every epoch is ``0 .. size-1``).
        epoch: the epoch the first iteration draws.
        skip: items of that first epoch already consumed (a resumed run).
    """

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True, epoch: int = 0, skip: int = 0) -> None:
        if not 0 <= skip <= size:
            raise ValueError(f"skip must be in [0, {size}], got {skip}")
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.epoch, self.skip = epoch, skip

    def set_epoch(self, epoch: int) -> None:
        """Draw ``epoch``'s order next (Lightning calls this at every epoch start); a new epoch skips nothing."""
        if epoch != self.epoch:
            self.epoch, self.skip = epoch, 0

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, skip = self.epoch, self.skip
        self.skip = 0  # the resumed epoch is skipped into once
        if self.shuffle:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + epoch))
        else:
            order = torch.arange(self.size)
        for index in order[skip:].tolist():
            yield epoch, index


class SeededView(Dataset[dict[str, Any]]):
    """``dataset`` keyed by ``(epoch, index)``: ``dataset[index]`` under a torch RNG seeded with
    ``sample_seed(seed, epoch, index)`` (the global RNG is restored afterwards); plain ``int`` keys read
    the dataset as it is. Other attributes (``transform``, ``sample_id`` …) are the dataset's.

    Args:
        dataset: a map-style dataset.
        seed: seed of the per-item augmentation RNG.
    """

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        if isinstance(key, int):
            return self.dataset[key]
        epoch, index = key
        generator = torch.default_generator  # the CPU RNG the transforms draw from (torch.manual_seed costs
        state = generator.get_state()  # ~100x more: it also seeds every accelerator and Python's hash seeds)
        try:
            generator.manual_seed(sample_seed(self.seed, epoch, index))
            return self.dataset[index]
        finally:
            generator.set_state(state)

    def __getattr__(self, name: str) -> Any:
        if name in ("dataset", "seed") or name.startswith("__"):  # no batched __getitems__ of the dataset
            raise AttributeError(name)
        return getattr(self.dataset, name)
