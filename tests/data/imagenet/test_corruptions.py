"""ImageNet-C and ImageNet-3DCC: readers on synthetic trees in the official layout, their errors, the registry's
pattern rows and ImageNetDataModule serving whole corruption families (classification and MCQ)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from vlmrobust.core.cli import main as vlmrobust
from vlmrobust.data.datamodules import ImageNetDataModule
from vlmrobust.data.imagenet import DatasetFormatError, load_image
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet.corruptions import (
    IMAGENET_C_CORRUPTIONS,
    IMAGENET_C_EXTRA,
    THREEDCC_CORRUPTIONS,
    corruption_sets,
    read_3dcc,
    read_imagenet_c,
)
from vlmrobust.data.imagenet.fixtures.corruptions import write_3dcc, write_imagenet_c
from vlmrobust.data.imagenet.metadata import wnids
from vlmrobust.data.registry import get_entry, get_reader, list_evalsets

W7 = wnids()[7]


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("corruptions")
    return {
        "val": fx.write_val_folders(base / "val", {1: 0, 2: 7, 3: 999, 4: 423}),
        "imagenet-r": fx.write_imagenet_r(base / "r", {1: 1}),
        "imagenet-c": write_imagenet_c(base / "ImageNet-C", ("gaussian_noise", "fog"), (1, 3), {7: 1, 0: 2}),
        "3dcc": write_3dcc(base / "ImageNet-3DCC", ("near_focus", "fog_3d"), (1, 5), {999: 1}),
    }


@pytest.fixture(scope="module")
def every_corruption(tmp_path_factory):
    """Every ImageNet-C (15 + 4 extra) and 3DCC (12) corruption at severity 5, one image of class 3 each."""
    base = tmp_path_factory.mktemp("every")
    return {
        "imagenet-c": write_imagenet_c(base / "c", IMAGENET_C_CORRUPTIONS + IMAGENET_C_EXTRA, (5,), {3: 1}),
        "3dcc": write_3dcc(base / "3dcc", THREEDCC_CORRUPTIONS, (5,), {3: 1}),
    }


def test_official_corruption_lists():
    assert (
        len(IMAGENET_C_CORRUPTIONS) == 15 and len(IMAGENET_C_EXTRA) == 4 and len(THREEDCC_CORRUPTIONS) == 12
    )
    assert IMAGENET_C_CORRUPTIONS[:3] == ("gaussian_noise", "shot_noise", "impulse_noise")
    assert IMAGENET_C_CORRUPTIONS[-1] == "jpeg_compression" and IMAGENET_C_EXTRA[-1] == "saturate"
    assert THREEDCC_CORRUPTIONS[:3] == ("near_focus", "far_focus", "fog_3d")


def test_imagenet_c_round_trip(trees):
    root = trees["imagenet-c"]
    assert (
        root / "fog" / "3" / W7 / "ILSVRC2012_val_00000351.JPEG"
    ).is_file()  # image 0 of class 7: 50 * 7 + 1
    assert len(list((root / "fog" / "3").iterdir())) == 1000  # every wnid folder, as the real set
    got = read_imagenet_c(root, "fog", 3)
    assert got.name == "imagenet-c/fog/3" and got.id_set == "imagenet-val" and got.classes.is_full
    assert got.root == str(root / "fog" / "3")
    assert [(s.sample_id, s.label, s.in1k_labels) for s in got] == [
        ("n01440764/ILSVRC2012_val_00000001.JPEG", 0, (0,)),
        ("n01440764/ILSVRC2012_val_00000002.JPEG", 0, (0,)),
        (f"{W7}/ILSVRC2012_val_00000351.JPEG", 7, (7,)),
    ]
    pixel = np.asarray(load_image(got.samples[2].path))[0, 0]
    np.testing.assert_allclose(pixel, fx.class_color(7), atol=3)  # JPEG
    assert read_imagenet_c(root, "gaussian_noise", 1).name == "imagenet-c/gaussian_noise/1"


def test_3dcc_round_trip(trees):
    got = read_3dcc(trees["3dcc"], "fog_3d", 5)
    assert got.name == "3dcc/fog_3d/5" and got.id_set == "imagenet-val"
    assert [(s.sample_id, s.label) for s in got] == [("n15075141/ILSVRC2012_val_00049951.JPEG", 999)]


def test_every_corruption_of_both_families_round_trips(every_corruption):
    c = corruption_sets(every_corruption["imagenet-c"], "imagenet-c", severities=(5,))
    assert [s.name for s in c] == [f"imagenet-c/{n}/5" for n in IMAGENET_C_CORRUPTIONS]  # default: the 15
    extra = corruption_sets(every_corruption["imagenet-c"], "imagenet-c", IMAGENET_C_EXTRA, (5,))
    assert [s.name for s in extra] == [f"imagenet-c/{n}/5" for n in IMAGENET_C_EXTRA]
    d3 = corruption_sets(every_corruption["3dcc"], "3dcc", severities=(5,))
    assert [s.name for s in d3] == [f"3dcc/{n}/5" for n in THREEDCC_CORRUPTIONS]
    for s in (*c, *extra, *d3):
        assert [(x.sample_id, x.label) for x in s] == [(f"{wnids()[3]}/ILSVRC2012_val_00000151.JPEG", 3)]


def test_corruption_sets_order_is_corruption_major(trees):
    sets = corruption_sets(trees["imagenet-c"], "imagenet-c", ["fog", "gaussian_noise"], (3, 1))
    assert [s.name for s in sets] == [
        "imagenet-c/fog/3", "imagenet-c/fog/1", "imagenet-c/gaussian_noise/3", "imagenet-c/gaussian_noise/1",
    ]  # fmt: skip
    assert [len(s) for s in sets] == [3, 3, 3, 3]


def test_unknown_corruption_and_bad_severity(trees):
    root = trees["imagenet-c"]
    with pytest.raises(
        ValueError, match=r"unknown ImageNet-C corruption 'gausian_noise'\. Did you mean 'gaussian_noise'"
    ):
        read_imagenet_c(root, "gausian_noise", 1)
    with pytest.raises(ValueError, match=r"unknown ImageNet-3DCC corruption 'fog'\. Did you mean 'fog_3d'"):
        read_3dcc(trees["3dcc"], "fog", 1)
    for bad in (0, 6, True):
        with pytest.raises(ValueError, match=rf"severity must be one of 1, 2, 3, 4, 5; got {bad!r}"):
            read_imagenet_c(root, "fog", bad)
    with pytest.raises(
        ValueError, match=r"unknown corruption family 'imagenet_c'\. Did you mean 'imagenet-c'"
    ):
        corruption_sets(root, "imagenet_c")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duplicate corruption or severity"):
        corruption_sets(root, "imagenet-c", ["fog", "fog"], (1,))


def test_missing_corruption_or_severity_folder_is_named(trees):
    root = trees["imagenet-c"]
    with pytest.raises(
        FileNotFoundError,
        match=r"fog/2: ImageNet-C severity folder 2 of 'fog' does not exist \(found severities: 1, 3\)",
    ):
        read_imagenet_c(root, "fog", 2)
    with pytest.raises(
        FileNotFoundError,
        match=r"snow: ImageNet-C corruption folder 'snow' does not exist \(found: fog, gaussian_noise;",
    ):
        read_imagenet_c(root, "snow", 1)
    # a family read checks every requested folder first and names all the missing ones
    with pytest.raises(
        FileNotFoundError, match=r"3 requested ImageNet-C folder\(s\) missing \(fog/2, fog/5, snow\)"
    ):
        corruption_sets(root, "imagenet-c", ["fog", "snow"], (1, 2, 5), on_error="skip")
    with pytest.raises(FileNotFoundError, match="ImageNet-3DCC folder does not exist"):
        read_3dcc(root / "nowhere", "fog_3d", 1)


def test_bad_input_inside_a_severity_folder(tmp_path):
    root = write_imagenet_c(tmp_path / "c", ("snow",), (2,), {5: 1})
    (root / "snow" / "2" / wnids()[5] / "notes.txt").write_text("x")
    with pytest.raises(DatasetFormatError, match=r"notes\.txt: not an image file"):
        read_imagenet_c(root, "snow", 2)
    got = read_imagenet_c(root, "snow", 2, on_error="skip")
    assert len(got) == 1 and len(got.skipped) == 1
    shutil.rmtree(root / "snow" / "2" / wnids()[999])
    with pytest.raises(DatasetFormatError, match=r"n15075141: missing class folder"):
        read_imagenet_c(root, "snow", 2)


def test_registry_pattern_rows_and_concrete_names(trees):
    names = [e.name for e in list_evalsets("imagenet", patterns=True)]
    assert names[-2:] == ["imagenet-c/<corruption>/<severity>", "3dcc/<corruption>/<severity>"]
    assert not any(e.pattern for e in list_evalsets())  # sets readable by name only
    entry = get_entry("imagenet-c/fog/3")
    assert (entry.name, entry.id_set, entry.num_classes, entry.family, entry.pattern) == (
        "imagenet-c/fog/3", "imagenet-val", 1000, "imagenet", False,
    )  # fmt: skip
    assert entry.datamodule == "vlmrobust.data.datamodules.ImageNetDataModule"
    got = get_reader("3dcc/near_focus/5")(trees["3dcc"], on_error="raise")
    assert got.name == "3dcc/near_focus/5" and len(got) == 1
    with pytest.raises(
        KeyError,
        match=r"unknown eval set 'imagenet-c/fgo/3': unknown ImageNet-C corruption 'fgo'\. Did you mean 'fog'",
    ):
        get_entry("imagenet-c/fgo/3")
    with pytest.raises(KeyError, match=r"'3dcc/fog_3d/9': corruption severity must be one of"):
        get_entry("3dcc/fog_3d/9")
    with pytest.raises(KeyError, match=r"'imagenet-c/fog' names no severity"):
        get_entry("imagenet-c/fog")


def test_list_evalsets_shows_one_line_per_family(capsys):
    assert vlmrobust(["list", "evalsets", "--family", "imagenet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in lines[1:] if not line.startswith(" ")}
    assert (
        "ImageNet-C: 15 corruptions x severities 1-5 = 75 sets (+4 extra"
        in rows["imagenet-c/<corruption>/<severity>"]
    )
    assert rows["3dcc/<corruption>/<severity>"].split()[1:4] == ["1000", "imagenet-val", "ImageNetDataModule"]
    assert "ImageNet-3DCC: 12 corruptions x severities 1-5 = 60 sets" in rows["3dcc/<corruption>/<severity>"]
    below = [line.strip() for line in lines if line.strip().startswith("corruptions:")]
    assert below == [
        "corruptions: " + ", ".join(IMAGENET_C_CORRUPTIONS) + "; extra: " + ", ".join(IMAGENET_C_EXTRA),
        "corruptions: " + ", ".join(THREEDCC_CORRUPTIONS),
    ]


def test_datamodule_serves_a_family_after_the_shifts(trees):
    dm = ImageNetDataModule(
        str(trees["val"]), {"imagenet-r": str(trees["imagenet-r"])}, corruptions={"imagenet-c": str(trees["imagenet-c"])},
        corruption_names=["fog", "gaussian_noise"], severities=[3, 1], eval_batch_size=2, image_size=16,
    )  # fmt: skip
    sets = dm.eval_sets
    assert [(s.name, s.id_set, s.num_samples, len(s.class_names)) for s in sets] == [
        ("imagenet-val", None, 4, 1000),
        ("imagenet-val-on-imagenet-r-classes", None, 0, 200),
        ("imagenet-r", "imagenet-val-on-imagenet-r-classes", 1, 200),
        ("imagenet-c/fog/3", "imagenet-val", 3, 1000),
        ("imagenet-c/fog/1", "imagenet-val", 3, 1000),
        ("imagenet-c/gaussian_noise/3", "imagenet-val", 3, 1000),
        ("imagenet-c/gaussian_noise/1", "imagenet-val", 3, 1000),
    ]
    assert {s.task for s in sets} == {"classification"} and sets[3].head_names is None
    loaders = dm.val_dataloader()
    assert len(loaders) == 7
    assert torch.cat([b["label"] for b in loaders[4]]).tolist() == [0, 0, 7]
    batch = next(iter(loaders[5]))
    assert batch["image"].shape == (2, 3, 16, 16) and batch["index"].tolist() == [0, 1]
    assert loaders[5].dataset.sample_id(2) == f"{W7}/ILSVRC2012_val_00000351.JPEG"


def test_datamodule_serves_both_families_with_their_standard_lists(trees, every_corruption):
    roots = {k: str(v) for k, v in every_corruption.items()}
    dm = ImageNetDataModule(str(trees["val"]), corruptions=roots, severities=(5,), eval_batch_size=4)
    names = [s.name for s in dm.eval_sets]
    assert names == ["imagenet-val", *(f"imagenet-c/{c}/5" for c in IMAGENET_C_CORRUPTIONS),
                     *(f"3dcc/{c}/5" for c in THREEDCC_CORRUPTIONS)]  # fmt: skip
    assert len(dm.val_dataloader()) == 1 + 15 + 12
    assert {(s.id_set, s.num_samples) for s in dm.eval_sets[1:]} == {("imagenet-val", 1)}
    # the default severities 1..5 are not all there: setup names the missing folders
    missing = ImageNetDataModule(str(trees["val"]), corruptions={"3dcc": roots["3dcc"]})
    with pytest.raises(
        FileNotFoundError, match=r"48 requested ImageNet-3DCC folder\(s\) missing \(near_focus/1, "
    ):
        missing.setup()


def test_datamodule_serves_a_family_as_mcq(trees):
    dm = ImageNetDataModule(
        str(trees["val"]), corruptions={"3dcc": str(trees["3dcc"])}, corruption_names=["near_focus", "fog_3d"],
        severities=[1, 5], mode="mcq", val_labels="original", mcq_num_options=3, mcq_num_questions=None,
        eval_batch_size=2, image_size=8,
    )  # fmt: skip
    sets = dm.eval_sets
    assert [(s.name, s.id_set, s.task, s.num_options, s.num_samples) for s in sets] == [
        ("imagenet-val", None, "mcq", 3, 4),
        ("3dcc/near_focus/1", "imagenet-val", "mcq", 3, 1),
        ("3dcc/near_focus/5", "imagenet-val", "mcq", 3, 1),
        ("3dcc/fog_3d/1", "imagenet-val", "mcq", 3, 1),
        ("3dcc/fog_3d/5", "imagenet-val", "mcq", 3, 1),
    ]
    batch = next(iter(dm.val_dataloader()[4]))
    assert batch["options"].shape == (1, 3) and batch["options"][0, batch["answer"][0]].item() == 999
    assert dm.eval_datasets[4].sample_id(0) == "3dcc/fog_3d/5/hierarchy/0/0"


def test_datamodule_rejects_bad_corruption_config(trees):
    val = str(trees["val"])
    with pytest.raises(
        ValueError, match=r"unknown corruption family 'imagenet_c'\. Did you mean 'imagenet-c'"
    ):
        ImageNetDataModule(val, corruptions={"imagenet_c": "x"})
    with pytest.raises(ValueError, match=r"unknown ImageNet-3DCC corruption 'fog'\. Did you mean 'fog_3d'"):
        ImageNetDataModule(val, corruptions={"imagenet-c": "x", "3dcc": "y"}, corruption_names=["fog"])
    with pytest.raises(ValueError, match="severity must be one of 1, 2, 3, 4, 5; got 6"):
        ImageNetDataModule(val, corruptions={"imagenet-c": "x"}, severities=[1, 6])
