"""Feature cache: features computed once, sharded, resumable after a kill, memory-mapped, refused when
another encoder or dataset built them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from vlmrobust.data.features import CachedFeatures, FeatureCacheError, build_cache


class Items(Dataset):
    """Items with a 2-pixel image whose features are the pixel values; labels and options beside."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return {"image": torch.tensor([float(i), -float(i)]), "label": i % 3, "index": i,
                "options": torch.tensor([i, i + 1]), "caption": f"item {i}"}  # fmt: skip

    def sample_id(self, i: int) -> str:
        return f"item-{i}"


class Doubler:
    """Encoder: features = 2·image; counts the images it encoded."""

    identity = "doubler"
    preprocess = staticmethod(lambda x: x)

    def __init__(self) -> None:
        self.seen = 0

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        self.seen += len(images)
        return 2 * images


def test_cache_round_trip_with_fields_and_sample_ids(tmp_path) -> None:
    folder = build_cache(tmp_path / "c", Items(10), Doubler(), shard_size=4, batch_size=3)
    assert sorted(p.name for p in folder.glob("features-*.npy")) == [
        f"features-0000{i}.npy" for i in range(3)
    ]
    cached = CachedFeatures(folder, Items(10))
    assert len(cached) == 10 and cached.dim == 2
    item = cached[9]  # shard 2, row 1
    assert item["features"].tolist() == [18.0, -18.0] and item["label"] == 0 and item["index"] == 9
    assert item["options"].tolist() == [9, 10] and "caption" not in item  # strings are not cached
    assert cached.sample_id(9) == "item-9"
    assert isinstance(np.load(folder / "features-00000.npy", mmap_mode="r"), np.memmap)
    with pytest.raises(IndexError, match=r"item 10 outside \[0, 10\)"):
        cached[10]


def test_a_killed_build_resumes_with_only_the_missing_shards(tmp_path) -> None:
    encoder = Doubler()
    folder = build_cache(tmp_path / "c", Items(10), encoder, shard_size=4)
    assert encoder.seen == 10
    (folder / "features-00001.npy").unlink()  # as if killed while writing shard 1
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "complete": False}))
    with pytest.raises(FeatureCacheError, match="incomplete"):
        CachedFeatures(folder)
    again = Doubler()
    build_cache(folder, Items(10), again, shard_size=4)
    assert again.seen == 4  # shard 1 only
    assert [CachedFeatures(folder)[i]["features"][0].item() for i in range(10)] == [
        2.0 * i for i in range(10)
    ]
    done = Doubler()
    build_cache(folder, Items(10), done, shard_size=4)
    assert done.seen == 0  # complete: nothing recomputed


def test_another_encoder_or_size_is_refused(tmp_path) -> None:
    folder = build_cache(tmp_path / "c", Items(6), Doubler(), shard_size=4)
    other = Doubler()
    other.identity = "tripler"
    with pytest.raises(FeatureCacheError, match="built with encoder='doubler', not 'tripler'"):
        build_cache(folder, Items(6), other, shard_size=4)
    with pytest.raises(FeatureCacheError, match="built with size=6, not 7"):
        build_cache(folder, Items(7), Doubler(), shard_size=4)
    with pytest.raises(FeatureCacheError, match="no feature cache here"):
        CachedFeatures(tmp_path / "nothing")
