"""CaptionsDataModule: Karpathy image-caption batches, seeded shuffling, delegated eval sets, a real fit."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from vlmrobust.data.captions import write_karpathy
from vlmrobust.data.datamodules import (
    CaptionsDataModule,
    ImageNetDataModule,
    ResizeCenterCrop,
    WorldDataModule,
)
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet.samples import DatasetFormatError
from vlmrobust.data.world import CLASS_NAMES

COUNTS = {"train": 3, "restval": 2, "val": 1, "test": 1}  # train+restval: 5 images, 5+5+6+5+5 = 26 captions


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return write_karpathy(tmp_path_factory.mktemp("coco"), "coco", COUNTS, seed=5)


def _dm(coco, **kw) -> CaptionsDataModule:
    args = {"batch_size": 4, "image_size": 24, "drop_last": False}
    return CaptionsDataModule(str(coco.json_path), str(coco.image_root), **{**args, **kw})


def _expected_pairs(coco, splits=("train", "restval")) -> list[tuple[str, int, str]]:
    """(caption, imgid, image path) of every pair, image-major in file order, from the raw JSON."""
    images = json.loads(coco.json_path.read_text())["images"]
    return [
        (s["raw"].strip(), im["imgid"], str(coco.image_root / im["filepath"] / im["filename"]))
        for im in images
        if im["split"] in splits
        for s in im["sentences"]
    ]


def test_train_batches_are_the_json_captions_with_transformed_images(coco):
    expected = _expected_pairs(coco)
    assert len(expected) == 26
    dm = _dm(coco)
    batches = list(dm.train_dataloader())
    assert [len(b["caption"]) for b in batches] == [4] * 6 + [2]
    order = [i for b in batches for i in b["index"].tolist()]
    assert sorted(order) == list(range(26)) and order != list(range(26))  # every pair once, shuffled
    crop = ResizeCenterCrop(24)
    for b in batches:
        assert b["image"].shape == (len(b["caption"]), 3, 24, 24) and b["image"].dtype == torch.float32
        assert isinstance(b["caption"], list) and b["image_id"].dtype == torch.long
        for k, (i, cap, imgid) in enumerate(
            zip(b["index"].tolist(), b["caption"], b["image_id"].tolist(), strict=True)
        ):
            assert (cap, imgid) == expected[i][:2]
            with Image.open(expected[i][2]) as img:
                assert torch.equal(b["image"][k], crop(img))
    assert (
        dm.train_set.sample_id(0)
        == f"coco/{json.loads(coco.json_path.read_text())['images'][0]['sentids'][0]}"
    )


def test_shuffling_is_seeded_and_drop_last_defaults_on(coco):
    def order(dm):
        return [i for b in dm.train_dataloader() for i in b["index"].tolist()]

    assert order(_dm(coco, seed=1)) == order(_dm(coco, seed=1))
    assert order(_dm(coco, seed=1)) != order(_dm(coco, seed=2))
    dm = CaptionsDataModule(str(coco.json_path), str(coco.image_root), batch_size=8, image_size=16)
    assert [len(b["caption"]) for b in dm.train_dataloader()] == [8, 8, 8]  # 26 pairs, last 2 dropped
    small = _dm(coco, batch_size=32, drop_last=True)
    with pytest.raises(ValueError, match="26 image-caption pairs are fewer than batch_size 32"):
        small.train_dataloader()


def test_splits_and_missing_images(coco, tmp_path):
    dm = _dm(coco, splits=["val", "test"])
    dm.setup("fit")
    assert len(dm.train_set) == len(_expected_pairs(coco, ("val", "test"))) == 6 + 5
    with pytest.raises(ValueError, match="Did you mean 'restval'"):
        _dm(coco, splits=["train", "resval"])
    with pytest.raises(ValueError, match="unknown on_missing 'ignore'"):
        _dm(coco, on_missing="ignore")
    files = write_karpathy(tmp_path, "coco", COUNTS, seed=5)
    first = json.loads(files.json_path.read_text())["images"][0]
    gone = files.image_root / first["filepath"] / first["filename"]
    gone.unlink()
    with pytest.raises(DatasetFormatError, match="image file not found"):
        _dm(files).setup("fit")
    dm = _dm(files, on_missing="skip")
    dm.setup("fit")
    assert len(dm.train_set) == 26 - 5 and [s.path for s in dm.captions.skipped] == [str(gone)]


def test_without_eval_data_there_is_nothing_to_validate(coco):
    dm = _dm(coco)
    dm.setup("validate")
    assert dm.train_set is None  # the annotation file is only read for fit
    assert dm.eval_sets == [] and dm.eval_datasets == [] and dm.class_names == ()
    assert dm.val_dataloader() == [] and dm.test_dataloader() == []


def test_eval_sets_and_loaders_are_delegated_to_a_world_datamodule(coco):
    world = WorldDataModule(train_size=8, eval_size=4)
    dm = _dm(coco, eval_data=world)
    dm.setup("fit")
    assert dm.eval_sets == world.eval_sets and len(dm.eval_sets) == 6
    assert [s.name for s in dm.eval_sets][:2] == ["world/id", "world/reproduction"]
    assert dm.eval_datasets == world.eval_datasets and len(dm.eval_datasets) == 6
    assert dm.class_names == CLASS_NAMES
    for loaders in (dm.val_dataloader(), dm.test_dataloader()):
        assert [loader.dataset for loader in loaders] == world.eval_datasets
        batch = next(iter(loaders[0]))
        assert batch["image"].shape == (4, 3, 32, 32) and batch["label"].shape == (4,)
    assert "eval_data" not in dm.hparams and dm.hparams["batch_size"] == 4


def test_class_names_fall_back_to_the_first_eval_set_of_imagenet(coco, tmp_path):
    val = fx.write_val_folders(tmp_path / "val", {1: 65, 2: 970})
    imagenet = ImageNetDataModule(str(val), image_size=16, templates=["a photo of a {}."])
    dm = _dm(coco, eval_data=imagenet)
    assert [s.name for s in dm.eval_sets] == ["imagenet-val"]
    assert len(dm.class_names) == 1000 and dm.class_names[65] == "sea snake"
    assert len(dm.val_dataloader()) == 1


def _marker(value: float):
    return lambda img: torch.full((3, 4, 4), value) if isinstance(img, Image.Image) else None


@pytest.mark.parametrize("before_setup", [False, True])
def test_set_image_transforms_reaches_train_and_eval_data(coco, before_setup):
    world = WorldDataModule(train_size=8, eval_size=4, shifts=["sketch"])
    dm = _dm(coco, eval_data=world)
    if before_setup:
        dm.set_image_transforms(_marker(1.0), _marker(2.0))
    dm.setup("fit")
    train, val = dm.train_dataloader(), dm.val_dataloader()
    if not before_setup:
        dm.set_image_transforms(_marker(1.0), _marker(2.0))
    assert torch.equal(next(iter(train))["image"], torch.full((4, 3, 4, 4), 1.0))
    for loader in val:
        assert torch.equal(next(iter(loader))["image"], torch.full((4, 3, 4, 4), 2.0))


def test_jsonargparse_builds_it_from_a_config(coco):
    from argparse import ArgumentError

    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(CaptionsDataModule, "data")
    world = {"class_path": "vlmrobust.data.datamodules.WorldDataModule", "init_args": {"train_size": 8}}
    paths = {"annotations": str(coco.json_path), "image_root": str(coco.image_root)}
    cfg = parser.parse_object(
        {"data": {**paths, "splits": ["train"], "on_missing": "skip", "eval_data": world}}
    )
    dm = parser.instantiate_classes(cfg).data
    assert isinstance(dm, CaptionsDataModule) and isinstance(dm.eval_data, WorldDataModule)
    assert dm.splits == ("train",) and dm.on_missing == "skip" and dm.eval_data.train_size == 8
    with pytest.raises(ArgumentError, match=r"data\.on_missing(.|\n)*Literal\['raise', 'skip'\]"):
        parser.parse_object({"data": {"annotations": "a", "image_root": "b", "on_missing": "maybe"}})


@pytest.mark.slow
def test_clip_finetune_fits_two_steps_on_coco_captions(coco):
    import lightning.pytorch as pl

    from vlmrobust.train.clip_finetune import CLIPFineTune

    dm = _dm(coco, eval_data=WorldDataModule(train_size=8, eval_size=4))
    module = CLIPFineTune(model="open_clip:vlmrobust-tiny-clip", model_seed=0)
    before = {k: v.detach().clone() for k, v in module.scorer.named_parameters()}
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         limit_val_batches=0, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, datamodule=dm)
    assert trainer.global_step == 2
    assert dm.train_set.transform is module.scorer.preprocess_train  # the model's preprocessing was installed
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    after = dict(module.scorer.named_parameters())
    assert any(not torch.equal(before[k], after[k].detach()) for k in before)  # the optimiser stepped
    validator = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False)
    validator.validate(module, datamodule=dm, verbose=False)  # the delegated world eval sets run through it
    assert validator.num_val_batches == [1] * 6
