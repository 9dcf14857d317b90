"""WorldDataModule: loaders, eval-set metadata, shift validation, late image transforms, preview grid."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.world import CLASS_NAMES, SHIFTS
from vlmrobust.data.world.preview import save_grid


def _dm(**kw) -> WorldDataModule:
    args = {
        "train_size": 20,
        "eval_size": 10,
        "batch_size": 8,
        "eval_batch_size": 4,
        "shifts": ["sketch", "pose"],
    }
    return WorldDataModule(**{**args, **kw})


def test_train_loader_batches():
    dm = _dm()
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert [len(b["caption"]) for b in batches] == [8, 8, 4]
    b = batches[0]
    assert b["image"].shape == (8, 3, 32, 32) and b["image"].dtype == torch.float32
    assert isinstance(b["caption"], list) and all(isinstance(c, str) for c in b["caption"])
    assert b["label"].dtype == torch.long
    seen = sorted(i for b in batches for i in b["index"].tolist())
    assert seen == list(range(20))
    assert [i for b in batches for i in b["index"].tolist()] != list(range(20))  # shuffled
    for b in batches:
        for cap, lab in zip(b["caption"], b["label"].tolist(), strict=True):
            assert CLASS_NAMES[lab] in cap


def test_eval_loaders_follow_eval_sets():
    dm = _dm(image_size=40, templates=["a photo of a {}.", "a drawing of a {}."])
    dm.setup("validate")
    sets = dm.eval_sets
    assert [s.name for s in sets] == ["world/id", "world/sketch", "world/pose"]
    assert sets[0] == EvalSetInfo(
        "world/id", CLASS_NAMES, ("a photo of a {}.", "a drawing of a {}."), None, 10
    )
    assert all(s.id_set == "world/id" and s.num_samples == 10 for s in sets[1:])
    assert dm.class_names == CLASS_NAMES
    for loaders in (dm.val_dataloader(), dm.test_dataloader()):
        assert len(loaders) == 3
        for loader, info in zip(loaders, sets, strict=True):
            batches = list(loader)
            assert [len(b["index"]) for b in batches] == [4, 4, 2]
            assert torch.cat([b["index"] for b in batches]).tolist() == list(range(10))  # not shuffled
            assert batches[0]["image"].shape == (4, 3, 40, 40)
            assert loader.dataset.sample_id(0) == f"{info.name}/eval/0"
    sketch = next(iter(dm.val_dataloader()[1]))["image"]
    assert torch.equal(sketch[:, 0], sketch[:, 1])  # the second loader really is the sketch domain


def test_default_shifts_are_all_in_canonical_order():
    dm = WorldDataModule()
    assert [s.name for s in dm.eval_sets] == ["world/id"] + [f"world/{s}" for s in SHIFTS]
    assert dm.hparams["train_size"] == 2000 and dm.eval_sets[0].num_samples == 500


def test_unknown_shift_names_valid_choices():
    with pytest.raises(
        ValueError, match=r"'skech'.*Did you mean 'sketch'.*clutter, pose, rendition, reproduction"
    ):
        WorldDataModule(shifts=["skech"])
    with pytest.raises(ValueError, match="'id'"):
        WorldDataModule(shifts=["id"])  # the ID set is always served first, not a shift
    with pytest.raises(ValueError, match="placeholder"):
        WorldDataModule(templates=["a photo"])


def _marker(value: float):
    return lambda img: torch.full((3, 4, 4), value) if isinstance(img, Image.Image) else None


@pytest.mark.parametrize("before_setup", [False, True])
def test_set_image_transforms_takes_effect(before_setup):
    dm = _dm()
    if before_setup:
        dm.set_image_transforms(_marker(1.0), _marker(2.0))
    dm.setup("fit")
    train_loader, val_loaders = dm.train_dataloader(), dm.val_dataloader()  # built before the late call
    if not before_setup:
        dm.set_image_transforms(_marker(1.0), _marker(2.0))
    assert torch.equal(next(iter(train_loader))["image"], torch.full((8, 3, 4, 4), 1.0))
    for loader in val_loaders:
        assert torch.equal(next(iter(loader))["image"], torch.full((4, 3, 4, 4), 2.0))


def test_workers_give_the_same_batches():
    a, b = _dm(num_workers=0), _dm(num_workers=2)
    a.setup(), b.setup()
    la, lb = b.val_dataloader()[2], a.val_dataloader()[2]
    assert lb.persistent_workers is False and la.persistent_workers is True
    for x, y in zip(la, lb, strict=True):
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["label"], y["label"])


def test_preview_grid(tmp_path):
    path = save_grid(tmp_path / "grid.png", per_domain=3, scale=2)
    img = Image.open(path)
    assert img.mode == "RGB" and img.size[1] == 14 + 7 * (64 + 2)  # class-name header, six domains, scenes


def test_preview_shows_every_class_with_its_name_and_has_a_help(tmp_path, capsys):
    import numpy as np

    from vlmrobust.data.world.classes import CLASS_NAMES
    from vlmrobust.data.world.preview import main

    img = np.asarray(Image.open(save_grid(tmp_path / "all.png", scale=3)).convert("L"))
    assert img.shape[1] == 90 + len(CLASS_NAMES) * (96 + 2)  # one column per class
    for c in range(len(CLASS_NAMES)):  # every column has its name written in the header
        x = 90 + c * 98
        assert (img[:14, x : x + 96] < 128).any(), CLASS_NAMES[c]
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0 and "usage: python -m vlmrobust.data.world.preview" in capsys.readouterr().out
    assert main([str(tmp_path / "cli.png"), "--image-size", "16", "--no-scenes"]) == 0
    assert Image.open(tmp_path / "cli.png").size[1] == 14 + 6 * (48 + 2)


def test_mcq_mode_items_and_eval_sets():
    dm = _dm(mode="mcq", mcq_num_options=4, mcq_seed=1)
    sets = dm.eval_sets
    assert [(s.task, s.num_options, s.multi_label, s.num_samples) for s in sets] == [
        ("mcq", 4, False, 10)
    ] * 3
    dm.setup("validate")
    assert [len(ds) for ds in dm.eval_datasets] == [10, 10, 10]
    assert dm.eval_datasets[1].sample_id(0) == "world/sketch/hierarchy/1/0"
    labelled = dm.eval_datasets[1].base
    batch = next(iter(dm.val_dataloader()[1]))
    assert batch["options"].shape == (4, 4) and batch["image"].shape == (4, 3, 32, 32)
    assert batch["options"][torch.arange(4), batch["answer"]].tolist() == batch["label"].tolist()
    assert batch["label"].tolist() == [labelled[i]["label"] for i in range(4)]  # label = the answer class
    assert torch.equal(batch["image"][2], labelled[2]["image"])
    dm.eval_datasets[0].transform = None  # what the eval runner does for VLMs
    assert isinstance(dm.eval_datasets[0][0]["image"], Image.Image)
    rand = _dm(mode="mcq", mcq_strategy="random", mcq_num_options=4, mcq_seed=1)
    rand.setup()
    assert rand.eval_datasets[1].questions[0].strategy == "random"


def test_mcq_mode_bad_arguments():
    with pytest.raises(ValueError, match="mcq_strategy 'visual'"):
        WorldDataModule(mode="mcq", mcq_strategy="visual")
    with pytest.raises(ValueError, match=r"mcq_num_options must be in 2\.\.18"):
        WorldDataModule(mode="mcq", mcq_num_options=1)
    with pytest.raises(ValueError, match="unknown mode 'mcqs'"):
        WorldDataModule(mode="mcqs")


def test_classification_eval_datasets_yield_pil_without_a_transform():
    dm = _dm()
    dm.setup()
    ds = dm.eval_datasets[0]
    assert ds[0]["image"].shape == (3, 32, 32)  # default transform: to_tensor
    ds.transform = None
    assert isinstance(ds[0]["image"], Image.Image) and dm.eval_sets[0].task == "classification"
