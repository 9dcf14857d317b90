"""ImageNet-1k train: the reader on fixture trees (layouts, labels, bad input, samples_per_class) and the
training split of ImageNetDataModule (batches, class names, resumable loader, a CLIPFineTune fit)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from vlmrobust.data.datamodules import ImageNetDataModule, ResizeCenterCrop
from vlmrobust.data.imagenet import DatasetFormatError, read_imagenet_train
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.resumable import ResumableSampler

SEA_SNAKE = ("n01751748", 65)  # data_formats.md §1.1: wnid of val image 1 and its IN-1k index
COUNTS = {0: 3, SEA_SNAKE[1]: 2, 999: 1}


def expected_samples(folder) -> list[tuple[str, int]]:
    """(sample id, label) computed from the tree itself: label = rank of the wnid among the sorted folders."""
    wnids = sorted(os.listdir(folder))
    return [(f"{w}/{f}", k) for k, w in enumerate(wnids) for f in sorted(os.listdir(folder / w))]


def test_round_trip_counts_and_labels(tmp_path):
    root = fx.write_imagenet_train(tmp_path / "train", COUNTS)
    got = read_imagenet_train(root)
    assert got.name == "imagenet-train" and got.id_set is None and got.skipped == () and not got.multi_label
    assert len(got) == sum(COUNTS.values()) == 6
    assert len(os.listdir(root)) == 1000 and len(got.classes) == 1000 and got.classes.is_full
    assert [(s.sample_id, s.label) for s in got] == expected_samples(root)
    assert sorted({s.label for s in got}) == [0, 65, 999]
    for s in got:
        assert s.labels == s.in1k_labels == (s.label,) and s.official is None
        assert s.path == str(root / s.sample_id) and os.path.isfile(s.path)
        assert s.sample_id.split("/")[1].startswith(s.sample_id.split("/")[0] + "_")  # <wnid>/<wnid>_<n>.JPEG
    assert [s.sample_id.split("/")[0] for s in got if s.label == SEA_SNAKE[1]] == [SEA_SNAKE[0]] * 2


def test_kaggle_and_parent_folders_give_the_same_set(tmp_path):
    plain = read_imagenet_train(fx.write_imagenet_train(tmp_path / "a" / "train", COUNTS))
    parent = read_imagenet_train(tmp_path / "a")  # a torchvision ImageNet root holding train/
    kaggle_root = fx.write_imagenet_train(tmp_path / "kaggle", COUNTS, kaggle=True)
    kaggle = read_imagenet_train(kaggle_root)
    assert kaggle.root == str(kaggle_root / "ILSVRC" / "Data" / "CLS-LOC" / "train")
    for other in (parent, kaggle):
        assert [(s.sample_id, s.label) for s in other] == [(s.sample_id, s.label) for s in plain]
    (tmp_path / "empty" / "val").mkdir(parents=True)
    with pytest.raises(DatasetFormatError, match=r"empty: not an ImageNet train folder"):
        read_imagenet_train(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"nowhere: ImageNet train folder does not exist"):
        read_imagenet_train(tmp_path / "nowhere")


def test_bad_folders_and_files_are_named_or_counted(tmp_path):
    root = fx.write_imagenet_train(tmp_path / "train", COUNTS)
    jpeg = fx.image_bytes("JPEG", (1, 2, 3))
    (root / "n99999999").mkdir()  # not one of the 1000 wnids
    (root / "n99999999" / "n99999999_1.JPEG").write_bytes(jpeg)
    with pytest.raises(DatasetFormatError, match=r"n99999999: unknown folder 'n99999999': not a ILSVRC-2012"):
        read_imagenet_train(root)
    (root / "n01440764" / "n01443537_7.JPEG").write_bytes(jpeg)  # goldfish's name in tench's folder
    (root / "n01440764" / "notes.txt").write_text("x")
    shutil.rmtree(root / "n15075141")  # the last class folder
    got = read_imagenet_train(root, on_error="skip")
    reasons = sorted(s.reason.split(" ")[0] for s in got.skipped)
    assert reasons == ["file", "missing", "not", "unknown"] and len(got.skipped) == 4
    assert any("n01443537_7.JPEG" in s.path and "says n01443537" in s.reason for s in got.skipped)
    assert sorted({s.label for s in got}) == [0, 65] and len(got) == 5  # class 999's folder is gone
    shutil.rmtree(root / "n99999999")
    with pytest.raises(DatasetFormatError, match=r"n15075141: missing class folder \(1 of 1000 missing\)"):
        read_imagenet_train(root)
    (root / "n15075141").mkdir()
    with pytest.raises(DatasetFormatError, match=r"n01440764/notes\.txt: not an image file"):
        read_imagenet_train(root)
    (root / "n01440764" / "notes.txt").unlink()
    with pytest.raises(
        DatasetFormatError, match=r"n01443537_7\.JPEG: file name says n01443537 but it sits in"
    ):
        read_imagenet_train(root)


def test_samples_per_class_keeps_the_first_sorted_names(tmp_path):
    root = fx.write_imagenet_train(tmp_path / "train", {0: 6, 1: 2}, seed=3)
    names = sorted(os.listdir(root / "n01440764"))
    numbers = [int(n.split("_")[1].split(".")[0]) for n in names]
    assert numbers != sorted(numbers)  # sorted names are not numeric order: the check below can fail
    got = read_imagenet_train(root, samples_per_class=4)
    assert [s.sample_id for s in got if s.label == 0] == [f"n01440764/{n}" for n in names[:4]]
    assert sum(s.label == 1 for s in got) == 2  # fewer than N: all of them
    with pytest.raises(ValueError, match="samples_per_class must be >= 1"):
        read_imagenet_train(root, samples_per_class=0)


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("imagenet")
    return {
        "train": fx.write_imagenet_train(base / "train", COUNTS),
        "val": fx.write_val_folders(base / "val"),
    }


def make_dm(trees, **kw) -> ImageNetDataModule:
    kw = {"batch_size": 4, "image_size": 16, "templates": ["a photo of a {}."], **kw}
    return ImageNetDataModule(str(trees["val"]), train_root=str(trees["train"]), **kw)


def test_train_batches_labels_and_images(trees):
    dm = make_dm(trees)
    dm.setup("validate")
    assert dm.train_set is None  # train is indexed for fit only
    loader = dm.train_dataloader()
    assert isinstance(loader.sampler, ResumableSampler) and len(loader) == 2
    batches = list(loader)
    assert [b["image"].shape for b in batches] == [(4, 3, 16, 16), (2, 3, 16, 16)]
    labels = torch.cat([b["label"] for b in batches]).tolist()
    assert sorted(labels) == [0, 0, 0, 65, 65, 999]
    for batch in batches:  # every image is its class's colour: images and labels line up
        for image, label in zip(batch["image"], batch["label"].tolist(), strict=True):
            np.testing.assert_allclose(image[:, 8, 8].numpy() * 255, fx.class_color(label), atol=6)
    assert dm.train_set.sample_id(0).startswith("n01440764/")


def test_class_names_are_the_val_sets(trees):
    dm = make_dm(trees)
    assert dm.class_names == dm.eval_sets[0].class_names and dm.eval_sets[0].name == "imagenet-val"
    assert len(dm.class_names) == 1000 and dm.class_names[65] == "sea snake"
    assert dm.templates == ("a photo of a {}.",)


def test_shuffle_is_seeded_and_resumes_mid_epoch(trees):
    def order(dm) -> list[int]:
        return torch.cat([b["index"] for b in dm.train_dataloader()]).tolist()

    first = order(make_dm(trees, batch_size=2, seed=0))
    assert sorted(first) == list(range(6)) and first == order(make_dm(trees, batch_size=2, seed=0))
    assert first != order(make_dm(trees, batch_size=2, seed=1))
    resumed = make_dm(trees, batch_size=2, seed=0)
    resumed.load_state_dict({"train_epoch": 0, "train_batches_done": 1})  # a checkpoint after 1 batch
    assert order(resumed) == first[2:]


def test_set_image_transforms_reaches_a_built_train_set(trees):
    dm = make_dm(trees)
    dm.setup("fit")
    dm.set_image_transforms(ResizeCenterCrop(4), ResizeCenterCrop(6))
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape[1:] == (3, 4, 4)
    assert next(iter(dm.val_dataloader()[0]))["image"].shape[1:] == (3, 6, 6)


def test_without_train_root_there_is_no_training_data(trees):
    dm = ImageNetDataModule(str(trees["val"]))
    dm.setup("fit")
    assert dm.train_set is None and len(dm.eval_datasets) == 1
    with pytest.raises(ValueError, match="pass train_root="):
        dm.train_dataloader()
    with pytest.raises(ValueError, match="samples_per_class must be >= 1"):
        ImageNetDataModule(str(trees["val"]), samples_per_class=0)


@pytest.mark.slow
def test_clip_finetune_cross_entropy_fits_two_steps(trees):
    import lightning.pytorch as pl

    from vlmrobust.train.clip_finetune import CLIPFineTune

    dm = make_dm(trees, batch_size=3)
    module = CLIPFineTune(objective="cross_entropy", model="open_clip:vlmrobust-tiny-clip", model_seed=0)
    before = {k: v.detach().clone() for k, v in module.scorer.named_parameters()}
    trainer = pl.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         limit_val_batches=0, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, datamodule=dm)
    assert trainer.global_step == 2
    assert dm.train_set.transform is module.scorer.preprocess_train  # the model's preprocessing was installed
    assert module.head.linear.out_features == 1000  # the IN-1k classes, though the tree fills only 3
    assert torch.isfinite(trainer.callback_metrics["train/loss"])
    after = dict(module.scorer.named_parameters())
    changed = {k for k in before if not torch.equal(before[k], after[k].detach())}
    assert changed and all(
        after[k].requires_grad for k in changed
    )  # the image tower stepped, locked ones not
