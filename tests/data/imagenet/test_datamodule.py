"""ImageNetDataModule on fixture trees: loader order, paired ID sets, labels, transforms, MCQ mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vlmrobust.data.datamodules import ImageNetDataModule, ResizeCenterCrop
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import metadata
from vlmrobust.data.mcq.cli import main as build_mcq_main

R_IDX = metadata.imagenet_r_indices()


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("trees")
    # val: 3 images in ImageNet-R classes (R labels 0, 1, 199), 1 chair (ObjectNet 17), 2 in neither
    labels = {1: R_IDX[0], 2: R_IDX[1], 3: R_IDX[199], 4: 423, 5: 0, 6: 500}
    return {
        "val": fx.write_val_folders(base / "val", labels),
        "imagenet-r": fx.write_imagenet_r(base / "r", {R_IDX[0]: 2, R_IDX[5]: 1}),
        "imagenet-v2": fx.write_imagenet_v2(base / "v2", {2: 1, 10: 2}),
        "objectnet": fx.write_objectnet(base / "on", {"chair": 2, "skirt": 1}),
    }


def make_dm(trees, **kw) -> ImageNetDataModule:
    shifts = {k: str(trees[k]) for k in ("imagenet-r", "imagenet-v2", "objectnet")}
    return ImageNetDataModule(str(trees["val"]), shifts, eval_batch_size=2, image_size=16, **kw)


def test_eval_sets_and_loader_order(trees):
    dm = make_dm(trees, templates=["a photo of a {}."])
    sets = dm.eval_sets
    assert [(s.name, s.id_set, s.num_samples) for s in sets] == [
        ("imagenet-val", None, 6),
        ("imagenet-val-on-imagenet-r-classes", None, 3),
        ("imagenet-r", "imagenet-val-on-imagenet-r-classes", 3),
        ("imagenet-v2", "imagenet-val", 3),  # 1000 classes: paired with val itself
        ("imagenet-val-on-objectnet-classes", None, 1),
        ("objectnet", "imagenet-val-on-objectnet-classes", 3),
    ]
    assert sets[2] == EvalSetInfo(
        "imagenet-r", tuple(metadata.clip_class_names()[i] for i in R_IDX), ("a photo of a {}.",),
        "imagenet-val-on-imagenet-r-classes", 3,
    )  # fmt: skip
    assert len(sets[2].class_names) == 200 and len(sets[5].class_names) == 113
    loaders = dm.val_dataloader()
    assert len(loaders) == len(sets)
    labels = [torch.cat([b["label"] for b in loader]).tolist() for loader in loaders]
    assert labels[1] == [0, 1, 199]  # val restricted to R's classes, relabelled into R's 200
    assert labels[2] == [0, 0, 5]
    assert labels[3] == [2, 10, 10]
    assert labels[4] == [17]  # chair
    for loader, info in zip(loaders, sets, strict=True):
        batch = next(iter(loader))
        assert (
            batch["image"].shape[1:] == (3, 16, 16)
            and batch["index"].tolist() == [0, 1][: len(batch["index"])]
        )
        assert loader.dataset.sample_id(0)
        assert len(loader.dataset) == info.num_samples


def test_objectnet_border_crop_and_default_templates(trees):
    dm = make_dm(trees)
    assert dm.eval_sets[0].templates == metadata.clip_templates()
    on = dm.val_dataloader()[5].dataset
    image = on[0]["image"]  # 12x10 PNG, 2-px red/blue border removed: only the class colour is left
    rank = on.image_set.samples[0].label
    np.testing.assert_allclose(image[:, 0, 0].numpy() * 255, fx.class_color(rank), atol=1)


def test_set_image_transforms_after_setup(trees):
    dm = make_dm(trees)
    dm.setup("validate")
    dm.set_image_transforms(ResizeCenterCrop(4), lambda im: torch.full((1, 2, 2), float(im.size[0])))
    batch = next(iter(dm.val_dataloader()[0]))
    assert batch["image"].shape == (2, 1, 2, 2) and batch["image"][0, 0, 0, 0].item() == 8.0  # 8x8 fixtures


def test_no_paired_id_and_bad_shift(trees):
    dm = make_dm(trees, paired_id=False)
    assert [s.name for s in dm.eval_sets] == ["imagenet-val", "imagenet-r", "imagenet-v2", "objectnet"]
    with pytest.raises(ValueError, match="Did you mean 'imagenet-r'"):
        ImageNetDataModule(str(trees["val"]), {"imagenet-rr": "x"})


def test_mcq_mode_built_and_from_files(trees, tmp_path):
    dm = make_dm(trees, mode="mcq", mcq_num_options=3, mcq_num_questions=None, val_labels="original")
    sets = dm.eval_sets
    assert {(s.task, s.num_options, s.multi_label, s.head_names) for s in sets} == {("mcq", 3, False, None)}
    assert [s.num_samples for s in sets] == [len(ds) for ds in dm.eval_datasets]
    loaders = dm.val_dataloader()
    batch = next(iter(loaders[2]))  # imagenet-r
    assert batch["options"].shape == (2, 3)
    picked = batch["options"][torch.arange(2), batch["answer"]]
    assert picked.tolist() == batch["label"].tolist() == [0, 0]
    assert loaders[2].dataset.sample_id(0) == "imagenet-r/hierarchy/0/0"
    # prebuilt files from `vlmrobust build-mcq` give the same questions
    argv = ["--set", f"imagenet-val={trees['val']}", "--set", f"imagenet-r={trees['imagenet-r']}",
            "--out", str(tmp_path), "--num-options", "3", "--num-questions", "0", "--val-labels", "original"]  # fmt: skip
    assert build_mcq_main(argv) == 0
    shifts = {"imagenet-r": str(trees["imagenet-r"])}
    from_files = ImageNetDataModule(
        str(trees["val"]), shifts, mode="mcq", mcq_num_options=3, mcq_dir=str(tmp_path), val_labels="original"
    )
    assert [s.name for s in from_files.eval_sets] == [s.name for s in dm.eval_sets][:3]
    assert from_files.eval_datasets[2].questions == dm.eval_datasets[2].questions
    missing = ImageNetDataModule(str(trees["val"]), {"objectnet": str(trees["objectnet"])}, mode="mcq",
                                 mcq_dir=str(tmp_path), val_labels="original")  # fmt: skip
    with pytest.raises(FileNotFoundError, match=r"imagenet-val\.hierarchy\.k5\.seed0\.jsonl"):
        missing.setup()


@pytest.fixture(scope="module")
def clean_file(tmp_path_factory):
    # image 2 is relabelled to R class 5 and also keeps its official class; image 6 has no valid label
    rows = [(1, R_IDX[0], [R_IDX[0]], "*"), (2, R_IDX[1], [R_IDX[5], R_IDX[1]], "+"),
            (3, R_IDX[199], [R_IDX[199]], "*"), (4, 423, [423], "*"), (5, 0, [0], "*"), (6, 500, [], "*")]  # fmt: skip
    return fx.write_clean_labels(tmp_path_factory.mktemp("clean") / "clean_validation.csv", rows)


def test_classification_eval_sets_keep_multi_label_and_objectnet_columns(trees, clean_file):
    dm = make_dm(trees, val_labels="clean", val_label_file=str(clean_file))
    sets = {s.name: s for s in dm.eval_sets}
    assert (
        sets["imagenet-val-clean"].multi_label
        and sets["imagenet-val-clean-on-imagenet-r-classes"].multi_label
    )
    assert not sets["imagenet-r"].multi_label and sets["imagenet-r"].task == "classification"
    for name in ("objectnet", "imagenet-val-clean-on-objectnet-classes"):
        assert len(sets[name].head_names) == 125 and len(set(sets[name].head_to_class)) == 113
    assert sets["imagenet-r"].head_names is None
    batch = next(iter(dm.val_dataloader()[1]))  # val on R's classes: clean sets restricted to R
    assert batch["labels"].shape == (2, 200) and batch["labels"][1, [1, 5]].tolist() == [True, True]


def test_mcq_mode_defaults_to_clean_labels(trees, clean_file):
    with pytest.raises(ValueError, match=r"clean val labels.*val_label_file=.*val_labels='original'"):
        make_dm(trees, mode="mcq")
    with pytest.raises(ValueError, match="val_labels='real' needs val_label_file"):
        make_dm(trees, val_labels="real")
    dm = make_dm(trees, mode="mcq", mcq_num_options=3, mcq_num_questions=None, val_label_file=str(clean_file))
    assert dm.eval_sets[0].name == "imagenet-val-clean" and dm.eval_sets[0].task == "mcq"
    assert not dm.eval_sets[0].multi_label and dm.eval_sets[0].num_samples == 5  # image 6 has no valid label
    questions = dm.eval_datasets[1].questions  # val-clean on R's classes
    assert [(q.sample_id[-1], q.answer_class, q.answer_source) for q in questions] == [
        ("1", 0, "official"),
        ("2", 1, "official"),
        ("3", 199, "official"),
    ]
    assert 5 not in questions[1].options  # the other clean label is never a distractor
    assert make_dm(trees).eval_sets[0].name == "imagenet-val"  # classification: official labels by default
