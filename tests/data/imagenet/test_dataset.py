"""Torch Dataset wrapper, EvalSetInfo, and corrupt-image handling."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet import (
    ImageDecodeError,
    ImageNetEvalDataset,
    eval_set_info,
    read_imagenet_r,
    read_imagenet_val,
    read_objectnet,
    verify_images,
)
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet.metadata import clip_templates


def to_tensor(img):
    return torch.from_numpy(np.asarray(img, dtype=np.float32)).permute(2, 0, 1) / 255.0  # (3, H, W)


def test_val_items_sample_ids_and_info(tmp_path):
    val = read_imagenet_val(fx.write_val_folders(tmp_path / "val", {2: 970, 1: 65}))
    ds = ImageNetEvalDataset(val, transform=to_tensor)
    assert len(ds) == 2 and ds.sample_id(1) == "ILSVRC2012_val_00000002"
    item = ds[1]
    assert set(item) == {"image", "label", "index"} and item["label"] == 970 and item["index"] == 1
    assert item["image"].shape == (3, 8, 8)
    # the image is the one written for class 970 (JPEG: within a few levels of its colour)
    mean = (item["image"].mean(dim=(1, 2)) * 255).tolist()
    assert np.allclose(mean, fx.class_color(970), atol=3)
    batch = next(iter(DataLoader(ds, batch_size=2, num_workers=1)))  # pickled into a worker
    assert batch["label"].tolist() == [65, 970] and batch["index"].tolist() == [0, 1]
    assert ds.info == EvalSetInfo("imagenet-val", ds.info.class_names, clip_templates(), None, 2)
    assert len(ds.info.class_names) == 1000 and ds.info.class_names[970] == "mountain"


def test_shift_info_names_its_id_set(tmp_path):
    r = read_imagenet_r(fx.write_imagenet_r(tmp_path / "r", {1: 1}))
    info = eval_set_info(r)
    assert (info.name, info.id_set, info.num_samples) == (
        "imagenet-r",
        "imagenet-val-on-imagenet-r-classes",
        1,
    )
    assert len(info.class_names) == 200 and info.class_names[0] == "goldfish" and len(info.templates) == 80
    on = ImageNetEvalDataset(read_objectnet(fx.write_objectnet(tmp_path / "on", {"chair": 1})))
    assert on.info.class_names[17] == "chair" and len(on.info.class_names) == 113
    item = on[0]
    assert item["label"] == 17 and item["image"].size == (8, 6)  # PIL image: no transform; border cropped
    assert on.classes.in1k_groups[17] == (423, 559, 765)


def test_multi_label_items_carry_a_multi_hot(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", {1: 65, 2: 970})
    real = fx.write_real_labels(tmp_path / "real.json", {1: [65], 2: [970, 795]})
    ds = ImageNetEvalDataset(read_imagenet_val(root, labels="real", label_file=real), transform=to_tensor)
    item = ds[1]
    assert item["label"] == 970 and item["labels"].dtype == torch.bool and item["labels"].shape == (1000,)
    assert item["labels"].nonzero().flatten().tolist() == [795, 970]
    assert ds[0]["labels"].nonzero().flatten().tolist() == [65]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_image_names_the_file(tmp_path, damage, caplog):
    root = fx.write_val_folders(tmp_path / "val", {1: 65, 2: 970, 3: 230})
    val = read_imagenet_val(root)  # indexing never decodes, so it succeeds
    bad = val.samples[1].path
    with open(bad, "rb") as f:
        data = f.read()
    new = {"truncate": data[: len(data) // 2], "garbage": b"\xff\xd8not a jpeg" * 10, "empty": b""}[damage]
    with open(bad, "wb") as f:
        f.write(new)
    ds = ImageNetEvalDataset(val)
    ds[0]
    with pytest.raises(ImageDecodeError, match=re.escape(bad)):
        ds[1]
    with pytest.raises(ImageDecodeError, match="ILSVRC2012_val_00000002"):
        verify_images(val)
    with caplog.at_level(logging.WARNING):
        checked = verify_images(val, on_error="skip", num_workers=2)
    assert [s.sample_id[-1] for s in checked] == ["1", "3"] and [s.path for s in checked.skipped] == [bad]
    assert "skipped 1 bad input(s), kept 2 samples" in caplog.text
