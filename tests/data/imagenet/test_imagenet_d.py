"""ImageNet-D (three splits, 113 classes mapped to IN-1k) and Stylized-ImageNet: readers on synthetic trees in
the official layouts, the class table, errors, registry entries and ImageNetDataModule pairing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from vlmrobust.data.datamodules import IMAGENET_SHIFTS, ImageNetDataModule
from vlmrobust.data.imagenet import DatasetFormatError, load_image, metadata, objectnet_classes
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet.fixtures.corruptions import write_imagenet_d, write_stylized_imagenet
from vlmrobust.data.imagenet.imagenet_d import IMAGENET_D_CLASSES, imagenet_d_classes, read_imagenet_d
from vlmrobust.data.imagenet.stylized import read_stylized_imagenet
from vlmrobust.data.registry import get_entry, get_reader

CHAIR, SKIRT, WOK = 16, 76, 112  # ImageNet-D labels (rows of imgnet_d_dir2imgnet_d_id.txt)


def test_class_table_matches_the_official_files():
    classes = imagenet_d_classes()
    folders = [f for f, _, _ in IMAGENET_D_CLASSES]
    assert len(classes) == 113 and folders == sorted(folders)  # label = rank of the sorted folder
    assert sum(len(g) for g in classes.in1k_groups) == 125
    assert classes.in1k_groups[CHAIR] == (423, 559, 765) and classes.in1k_groups[0] == (409, 530)
    assert (folders[CHAIR], folders[SKIRT], folders[WOK]) == ("chair", "skirt", "wok")
    names = dict(zip(folders, classes.names, strict=True))
    assert names["coffee_or_french_press"] == "coffee or french press"  # official "coffee/french press"
    assert names["binder_closed"] == "binder (closed)" and names["t_shirt"] == "t shirt"  # "t-shirt"
    # the same 113 IN-1k groups as ObjectNet's overlap classes (12 of the folders are named differently)
    assert sorted(classes.in1k_groups) == sorted(objectnet_classes().in1k_groups)
    assert classes.name == "imagenet-d" and not classes.is_full


def test_round_trip_of_every_split(tmp_path):
    root = write_imagenet_d(
        tmp_path / "ImageNet-D", {"background": {"wok": 1, "alarm_clock": 2}, "texture": {"chair": 1},
                                  "material": {"skirt": 1, "chair": 1}},
    )  # fmt: skip
    background = read_imagenet_d(root, "background")
    assert background.name == "imagenet-d-background" and background.root == str(root / "background")
    assert background.id_set == "imagenet-val-on-imagenet-d-classes"
    assert [(s.sample_id.split("/")[0], s.label, s.in1k_labels) for s in background] == [
        ("alarm_clock", 0, (409, 530)), ("alarm_clock", 0, (409, 530)), ("wok", WOK, (909,)),
    ]  # fmt: skip
    assert all(len(s.sample_id.split("/")[1]) == 22 + 4 for s in background)  # <22 chars>.png
    assert [s.label for s in read_imagenet_d(root, "texture")] == [CHAIR]
    material = read_imagenet_d(root, "material")
    assert [s.label for s in material] == [CHAIR, SKIRT] and len(material.classes) == 113
    pixel = np.asarray(load_image(material.samples[1].path))[0, 0]
    assert tuple(pixel) == fx.class_color(SKIRT)


def test_unmapped_class_folder_and_other_bad_input(tmp_path):
    root = write_imagenet_d(tmp_path / "ImageNet-D", {"texture": {"teddy_bear": 1}})
    (root / "texture" / "teddy bear").mkdir()
    with pytest.raises(
        DatasetFormatError,
        match=r"teddy bear: unmapped class folder 'teddy bear': not one of the 113 ImageNet-D classes\. Did you mean 'teddy_bear'",
    ):
        read_imagenet_d(root, "texture")
    got = read_imagenet_d(root, "texture", on_error="skip")
    assert [s.label for s in got] == [92] and [s.reason[:22] for s in got.skipped] == [
        "unmapped class folder "
    ]
    shutil.rmtree(root / "texture" / "teddy bear")
    (root / "texture" / "teddy_bear" / "prompt.txt").write_text("x")
    with pytest.raises(DatasetFormatError, match=r"prompt\.txt: not an image file"):
        read_imagenet_d(root, "texture")
    with pytest.raises(
        FileNotFoundError, match=r"material: ImageNet-D material split folder .* does not exist"
    ):
        read_imagenet_d(root, "material")
    with pytest.raises(ValueError, match=r"unknown ImageNet-D split 'textures'\. Did you mean 'texture'"):
        read_imagenet_d(root, "textures")  # type: ignore[arg-type]
    (root / "material").mkdir()
    with pytest.raises(DatasetFormatError, match=r"material: holds no ImageNet-D class folder"):
        read_imagenet_d(root, "material")


def test_stylized_imagenet_round_trip(tmp_path):
    root = write_stylized_imagenet(tmp_path / "Stylized-ImageNet", {7: 1, 0: 1})
    assert (root / "val" / metadata.wnids()[7] / "ILSVRC2012_val_00000351.png").is_file()
    for folder in (root, root / "val"):  # the dataset folder or its val/
        got = read_stylized_imagenet(folder)
        assert got.name == "stylized-imagenet" and got.id_set == "imagenet-val" and got.classes.is_full
        assert [(s.sample_id, s.label) for s in got] == [
            ("n01440764/ILSVRC2012_val_00000001.png", 0), (f"{metadata.wnids()[7]}/ILSVRC2012_val_00000351.png", 7),
        ]  # fmt: skip
    shutil.rmtree(root / "val" / "n01443537")
    with pytest.raises(DatasetFormatError, match="n01443537: missing class folder"):
        read_stylized_imagenet(root)


def test_registry_entries(tmp_path):
    root = write_imagenet_d(tmp_path / "D")
    for split, labels in (("background", [0, 0, WOK]), ("texture", [CHAIR]), ("material", [SKIRT])):
        entry = get_entry(f"imagenet-d-{split}")
        assert (entry.num_classes, entry.id_set, entry.family) == (
            113,
            "imagenet-val-on-imagenet-d-classes",
            "imagenet",
        )
        assert [s.label for s in get_reader(f"imagenet-d-{split}")(root, on_error="raise")] == labels
    assert get_reader("stylized-imagenet") is read_stylized_imagenet
    assert get_entry("stylized-imagenet").id_set == "imagenet-val"
    assert {"imagenet-d-background", "imagenet-d-texture", "imagenet-d-material", "stylized-imagenet"} <= set(
        IMAGENET_SHIFTS
    )


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("trees")
    return {
        "val": fx.write_val_folders(base / "val", {1: 423, 2: 0, 3: 909, 4: 601}),  # chair, tench, wok, skirt
        "imagenet-d": write_imagenet_d(base / "ImageNet-D"),
        "stylized": write_stylized_imagenet(base / "sin", {0: 1}),
    }


def test_datamodule_pairs_the_splits_with_one_restricted_val(trees):
    d = str(trees["imagenet-d"])
    shifts = {
        "imagenet-d-background": d,
        "stylized-imagenet": str(trees["stylized"]),
        "imagenet-d-texture": d,
    }
    dm = ImageNetDataModule(str(trees["val"]), shifts, eval_batch_size=4, image_size=8)
    sets = dm.eval_sets
    assert [(s.name, s.id_set, s.num_samples) for s in sets] == [
        ("imagenet-val", None, 4),
        ("imagenet-val-on-imagenet-d-classes", None, 3),  # tench is not an ImageNet-D class
        ("imagenet-d-background", "imagenet-val-on-imagenet-d-classes", 3),
        ("stylized-imagenet", "imagenet-val", 1),
        ("imagenet-d-texture", "imagenet-val-on-imagenet-d-classes", 1),  # shares the restricted val
    ]
    assert len(sets[2].head_names) == 125 and len(set(sets[2].head_to_class)) == 113
    assert sets[2].class_names == imagenet_d_classes().names
    labels = [torch.cat([b["label"] for b in loader]).tolist() for loader in dm.val_dataloader()]
    assert labels[1] == [CHAIR, WOK, SKIRT] and labels[2] == [0, 0, WOK] and labels[4] == [CHAIR]
    mcq = ImageNetDataModule(str(trees["val"]), {"imagenet-d-background": d}, mode="mcq", val_labels="original",
                             mcq_num_options=3, mcq_num_questions=None)  # fmt: skip
    assert [(s.name, s.task, s.num_samples, s.head_names) for s in mcq.eval_sets][1:] == [
        ("imagenet-val-on-imagenet-d-classes", "mcq", 3, None), ("imagenet-d-background", "mcq", 3, None),
    ]  # fmt: skip
