"""MCQDataset over any labelled eval dataset (ImageNet or world): items, transform, missing images."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from vlmrobust.data.imagenet import ImageNetEvalDataset, metadata, read_imagenet_r
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.mcq import build_mcq
from vlmrobust.data.mcq.dataset import MCQDataset
from vlmrobust.data.mcq.world import build_world_mcq
from vlmrobust.data.world import LabelledDataset, ProceduralWorld


def test_world_base_items_and_pil_images():
    base = LabelledDataset(ProceduralWorld(0), "pose", size=12)
    questions = build_world_mcq(base, "hierarchy", num_options=3, seed=0).questions
    ds = MCQDataset(base, questions)
    item = ds[5]
    assert set(item) == {"image", "label", "index", "options", "answer"}
    assert item["label"] == base[5]["label"] == int(item["options"][item["answer"]]) and item["index"] == 5
    assert torch.equal(item["image"], base[5]["image"]) and ds.sample_id(5) == "world/pose/hierarchy/0/5"
    ds.transform = None
    assert base.transform is None and isinstance(ds[0]["image"], Image.Image)


def test_imagenet_base_and_missing_images(tmp_path):
    r_idx = metadata.imagenet_r_indices()
    image_set = read_imagenet_r(fx.write_imagenet_r(tmp_path / "r", {r_idx[0]: 2, r_idx[3]: 1}))
    base = ImageNetEvalDataset(image_set)
    questions = build_mcq(image_set, "random", num_options=3, num_questions=None).questions
    ds = MCQDataset(base, questions)
    assert isinstance(ds[0]["image"], Image.Image) and [ds[i]["label"] for i in range(3)] == [0, 0, 3]
    world = LabelledDataset(ProceduralWorld(0), "id", size=4)
    with pytest.raises(
        KeyError,
        match=r"3 question\(s\) ask about images not in the 'imagenet-r' dataset.*imagenet-r/random/0/0",
    ):
        MCQDataset(world, questions)
