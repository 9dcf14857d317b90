"""ImageNet-V2, -Sketch, -R, -A and ObjectNet readers on synthetic trees in their official layouts."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

from vlmrobust.data.imagenet import (
    DatasetFormatError,
    load_image,
    read_imagenet_a,
    read_imagenet_r,
    read_imagenet_sketch,
    read_imagenet_v2,
    read_objectnet,
)
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet.metadata import wnids


def test_v2_labels_are_folder_numbers_not_string_ranks(tmp_path):
    root = fx.write_imagenet_v2(tmp_path / "imagenetv2-matched-frequency-format-val", {100: 1, 2: 1, 10: 2})
    names = sorted(p.name for p in (root / "10").iterdir())
    assert len(names) == 2 and all(re.fullmatch(r"[0-9a-f]{40}\.jpeg", n) for n in names)
    got = read_imagenet_v2(root)
    assert [s.label for s in got] == [2, 10, 10, 100]
    assert [s.sample_id.split("/")[0] for s in got] == ["2", "10", "10", "100"]
    # ImageFolder's string sort would have given folder "2" the label 112 ("0", "1", "10".."199", "2")
    assert sorted(map(str, range(1000))).index("2") == 112
    assert got.name == "imagenet-v2" and got.id_set == "imagenet-val" and got.classes.is_full
    assert got.samples[1].in1k_labels == (10,)


def test_v2_pre_2021_wnid_folders(tmp_path):
    root = fx.write_imagenet_sketch(tmp_path / "old", {5: 1, 0: 1})  # same wnid-folder layout
    assert [s.label for s in read_imagenet_v2(root, name="imagenet-v2-old")] == [0, 5]


def test_v2_bad_folders(tmp_path):
    root = fx.write_imagenet_v2(tmp_path / "v2", {2: 1})
    (root / "007").mkdir()
    with pytest.raises(DatasetFormatError, match=r"007: unknown folder '007': not a class number"):
        read_imagenet_v2(root)
    (root / "007").rmdir()
    shutil.rmtree(root / "999")
    with pytest.raises(DatasetFormatError, match=r"999: missing class folder"):
        read_imagenet_v2(root)
    got = read_imagenet_v2(root, on_error="skip")
    assert [s.label for s in got] == [2] and len(got.skipped) == 1


def test_sketch_round_trip(tmp_path):
    root = fx.write_imagenet_sketch(tmp_path / "sketch", {999: 1, 0: 2, 7: 1})
    got = read_imagenet_sketch(root)
    assert [(s.sample_id, s.label) for s in got] == [
        ("n01440764/sketch_0.JPEG", 0), ("n01440764/sketch_1.JPEG", 0), (f"{wnids()[7]}/sketch_0.JPEG", 7),
        ("n15075141/sketch_0.JPEG", 999),
    ]  # fmt: skip
    assert got.id_set == "imagenet-val"


def test_imagenet_r_round_trip(tmp_path):
    # IN-1k 1 (goldfish) is R class 0, 4 is R class 2, 988 (acorn) is R class 199
    root = fx.write_imagenet_r(tmp_path / "imagenet-r", {988: 1, 1: 2, 4: 1})
    assert (root / "README.txt").is_file() and (root / "n01443537" / "art_0.jpg").is_file()
    got = read_imagenet_r(root)
    assert [(s.sample_id, s.label, s.in1k_labels) for s in got] == [
        ("n01443537/art_0.jpg", 0, (1,)), ("n01443537/cartoon_1.jpg", 0, (1,)),
        ("n01494475/art_0.jpg", 2, (4,)), ("n12267677/art_0.jpg", 199, (988,)),
    ]  # fmt: skip
    assert got.classes.names[0] == "goldfish" and got.classes.names[199] == "acorn"
    assert got.id_set == "imagenet-val-on-imagenet-r-classes"


def test_imagenet_r_rejects_wnid_outside_its_200(tmp_path):
    root = fx.write_imagenet_r(tmp_path / "imagenet-r", {1: 1})
    (root / "n01440764").mkdir()  # tench is an IN-1k class but not an ImageNet-R one
    with pytest.raises(DatasetFormatError, match=r"n01440764: unknown folder .*ImageNet-R"):
        read_imagenet_r(root)


def test_imagenet_a_labels_come_from_the_folder_not_the_file_name(tmp_path):
    # IN-1k 6 (stingray) is A class 0, 988 is A class 199
    root = fx.write_imagenet_a(tmp_path / "imagenet-a", {6: 2, 988: 1})
    got = read_imagenet_a(root)
    assert [s.label for s in got] == [0, 0, 199] and [s.in1k_labels for s in got] == [(6,), (6,), (988,)]
    assert " " in got.samples[0].sample_id and "stingray" not in got.samples[0].sample_id
    assert got.samples[0].sample_id.startswith("n01498041/")
    assert got.id_set == "imagenet-val-on-imagenet-a-classes"


def test_objectnet_many_to_one_drop_and_border_crop(tmp_path):
    root = fx.write_objectnet(
        tmp_path / "objectnet-1.0", {"chair": 2, "skirt": 1, "squeegee": 3, "alarm_clock": 1}
    )
    assert (root / "mappings" / "folder_to_objectnet_label.json").is_file()
    got = read_objectnet(root)
    # Appendix F: alarm_clock 0 -> [409, 530], chair 17 -> [423, 559, 765], skirt 77 -> [601, 655, 689]
    assert [(s.sample_id.split("/")[0], s.label, s.in1k_labels) for s in got] == [
        ("alarm_clock", 0, (409, 530)), ("chair", 17, (423, 559, 765)), ("chair", 17, (423, 559, 765)),
        ("skirt", 77, (601, 655, 689)),
    ]  # fmt: skip
    # squeegee is one of the 200 dropped folders: its 3 images are excluded (images, not folders, count)
    assert got.excluded == 3 and got.border_crop == 2
    assert got.classes.names[17] == "chair" and got.id_set == "imagenet-val-on-objectnet-classes"
    assert got.samples[1].path.endswith(".png")
    raw = load_image(got.samples[1].path)
    assert raw.size == fx.OBJECTNET_SIZE and raw.getpixel((0, 0)) == (255, 0, 0)  # the red licence border
    cropped = load_image(got.samples[1].path, got.border_crop)
    assert cropped.size == (fx.OBJECTNET_SIZE[0] - 4, fx.OBJECTNET_SIZE[1] - 4)
    assert {tuple(p) for p in np.asarray(cropped).reshape(-1, 3)} == {fx.class_color(17)}  # no border left
    assert read_objectnet(root / "images").samples == got.samples  # the images/ folder works as root too


def test_objectnet_unknown_and_missing_folders(tmp_path):
    root = fx.write_objectnet(tmp_path / "objectnet-1.0", {"chair": 1})
    (root / "images" / "chairs").mkdir()
    with pytest.raises(DatasetFormatError, match=r"chairs: unknown folder 'chairs'.*Did you mean 'chair'"):
        read_objectnet(root)
    shutil.rmtree(root / "images" / "chairs")
    shutil.rmtree(root / "images" / "wok")
    with pytest.raises(DatasetFormatError, match=r"wok: missing class folder \(1 of 113"):
        read_objectnet(root)
    got = read_objectnet(root, on_error="skip")
    assert [s.label for s in got] == [17] and len(got.skipped) == 1


@pytest.mark.parametrize("reader", [read_imagenet_v2, read_imagenet_sketch, read_imagenet_r, read_imagenet_a,
                                    read_objectnet])  # fmt: skip
def test_missing_root_is_a_clear_error(tmp_path, reader):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent")):
        reader(tmp_path / "absent")
