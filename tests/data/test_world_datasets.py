"""Torch datasets over the world: items, determinism across workers, transforms, learnability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vlmrobust.data.world import (
    CLASS_NAMES,
    CaptionDataset,
    LabelledDataset,
    ProceduralWorld,
    collate_captions,
    to_tensor,
)

K = len(CLASS_NAMES)


def test_caption_items_and_default_transform():
    ds = CaptionDataset(ProceduralWorld(seed=0), size=10)
    item = ds[3]
    assert set(item) == {"image", "caption", "label", "index"}
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert item["image"].min() >= 0.0 and item["image"].max() <= 1.0
    assert item["label"] == 3 and item["index"] == 3 and CLASS_NAMES[3] in item["caption"]
    assert ds.sample_id(3) == "world/id/train/3"
    assert len(ds) == 10 and ds[-1]["index"] == 9
    with pytest.raises(IndexError):
        ds[10]


def test_to_tensor_matches_pixels():
    img = ProceduralWorld(seed=0).sample("id", "eval", 0).image
    t = to_tensor(img)
    r, g, b = img.getpixel((5, 7))
    assert torch.allclose(t[:, 7, 5], torch.tensor([r, g, b], dtype=torch.float32) / 255)


def test_labelled_items_and_ids():
    ds = LabelledDataset(ProceduralWorld(seed=0), "sketch", size=5)
    assert set(ds[0]) == {"image", "label", "index"}
    assert ds.sample_id(4) == "world/sketch/eval/4" and ds.class_names == CLASS_NAMES
    with pytest.raises(KeyError, match="Did you mean 'pose'"):
        LabelledDataset(ProceduralWorld(), "poes")


def test_sample_does_not_depend_on_dataset_size_or_cache():
    w = ProceduralWorld(seed=2)
    a, b = LabelledDataset(w, "clutter", size=8), LabelledDataset(w, "clutter", size=50, cache=True)
    for i in range(8):
        assert torch.equal(a[i]["image"], b[i]["image"])
        assert torch.equal(b[i]["image"], b[i]["image"])  # from the cache the second time


def _all(ds, workers: int, shuffle_order=None) -> dict[int, torch.Tensor]:
    out = {}
    if shuffle_order is not None:
        for i in shuffle_order:
            out[i] = ds[int(i)]["image"]
        return out
    for batch in DataLoader(ds, batch_size=7, num_workers=workers, collate_fn=collate_captions):
        for i, img in zip(batch["index"].tolist(), batch["image"], strict=True):
            out[i] = img
    return out


def test_same_images_for_any_worker_count_and_order():
    ds = CaptionDataset(ProceduralWorld(seed=5), "id", "train", size=30)
    single = _all(ds, 0)
    multi = _all(ds, 2)
    shuffled = _all(ds, 0, np.random.default_rng(1).permutation(30))
    assert sorted(single) == list(range(30))
    for i in range(30):
        assert torch.equal(single[i], multi[i]) and torch.equal(single[i], shuffled[i])


def test_transform_is_read_at_access_time():
    ds = LabelledDataset(ProceduralWorld(), "id", size=4)
    assert ds[0]["image"].shape == (3, 32, 32)
    ds.transform = lambda img: torch.full((3, 8, 8), 7.0)
    assert torch.equal(ds[0]["image"], torch.full((3, 8, 8), 7.0))


def test_collate_keeps_captions_as_strings():
    ds = CaptionDataset(ProceduralWorld(), size=5)
    batch = collate_captions([ds[i] for i in range(5)])
    assert batch["image"].shape == (5, 3, 32, 32)
    assert batch["label"].dtype == torch.long and batch["label"].tolist() == [0, 1, 2, 3, 4]
    assert isinstance(batch["caption"], list) and all(isinstance(c, str) for c in batch["caption"])


def _pixels(world, domain, split, n):
    x = np.stack(
        [np.asarray(world.sample(domain, split, i).image, dtype=np.float32).ravel() / 255 for i in range(n)]
    )
    return x, np.arange(n) % K


def _ncm_accuracy(x_tr, y_tr, x, y):
    means = np.stack([x_tr[y_tr == k].mean(0) for k in range(K)])  # [K, D]
    d = (x**2).sum(1, keepdims=True) - 2 * x @ means.T + (means**2).sum(1)  # [N, K] squared distances
    return float((d.argmin(1) == y).mean())


def test_nearest_class_mean_on_raw_pixels_learns_the_id_labels():
    world = ProceduralWorld(seed=0)
    x_tr, y_tr = _pixels(world, "id", "train", 30 * K)
    x_ev, y_ev = _pixels(world, "id", "eval", 15 * K)
    acc = _ncm_accuracy(x_tr, y_tr, x_ev, y_ev)
    shuffled = _ncm_accuracy(x_tr, np.random.default_rng(0).permutation(y_tr), x_ev, y_ev)
    assert acc > 4 / K  # chance is 1/K
    assert shuffled < 2.5 / K  # labels carry the information, not the index order
