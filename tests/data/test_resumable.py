"""Resumable sampler and per-item augmentation seeds (exact mid-epoch resume)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import RandomSampler

from vlmrobust.data.resumable import ResumableSampler, SeededView, sample_seed


def test_epoch_orders_are_seeded_by_epoch_and_epoch_0_is_a_random_sampler() -> None:
    sampler = ResumableSampler(10, seed=3)
    epoch0 = [i for _, i in sampler]
    assert epoch0 == list(RandomSampler(range(10), generator=torch.Generator().manual_seed(3)))
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert [e for e, _ in epoch1] == [1] * 10 and sorted(i for _, i in epoch1) == list(range(10))
    assert [i for _, i in epoch1] == torch.randperm(10, generator=torch.Generator().manual_seed(4)).tolist()


def test_skip_resumes_inside_an_epoch_once() -> None:
    full = [i for _, i in ResumableSampler(10, seed=0, epoch=2)]
    resumed = ResumableSampler(10, seed=0, epoch=2, skip=6)
    assert len(resumed) == 10  # Lightning counts the resumed epoch's batches from the checkpoint on
    resumed.set_epoch(2)  # Lightning sets the same epoch again: the skip stays
    assert [i for _, i in resumed] == full[6:]
    assert [i for _, i in resumed] == full  # the next pass of that epoch is whole
    with pytest.raises(ValueError, match=r"skip must be in \[0, 10\]"):
        ResumableSampler(10, skip=11)


class Noisy(torch.utils.data.Dataset):
    """Items whose value is a random draw (an augmentation), with an attribute to delegate."""

    transform = "t"

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        return {"x": torch.rand(()).item(), "index": i}


def test_augmentations_depend_on_seed_epoch_index_only() -> None:
    view = SeededView(Noisy(), seed=1)
    torch.manual_seed(123)
    a = view[(0, 2)]["x"]
    torch.rand(5)  # whatever ran before
    assert view[(0, 2)]["x"] == a
    assert view[(1, 2)]["x"] != a and view[(0, 3)]["x"] != a
    torch.manual_seed(sample_seed(1, 0, 2))
    assert torch.rand(()).item() == a
    state = torch.get_rng_state()
    view[(0, 1)]
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is untouched
    assert view.transform == "t" and len(view) == 4 and isinstance(view[0]["x"], float)
