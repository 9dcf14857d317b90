"""ARO VG-Relation / VG-Attribution readers: [false, true] options, bbox crops, symmetric list, bad input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlmrobust.data.aro import (
    SYMMETRIC_RELATIONS,
    read_vg_attribution,
    read_vg_relation,
    write_vg_attribution,
    write_vg_relation,
)
from vlmrobust.data.choice import ImageCropError
from vlmrobust.data.imagenet.samples import DatasetFormatError


@pytest.fixture(scope="module")
def aro_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("aro")
    write_vg_relation(root, n=5)
    write_vg_attribution(root, n=4)
    return root


def _rewrite(src: Path, tmp_path: Path, edit) -> Path:
    records = json.loads(src.read_text())
    edit(records)
    path = tmp_path / src.name
    path.write_text(json.dumps(records))
    return path


def test_vg_relation_round_trip(aro_root):
    ds = read_vg_relation(aro_root / "visual_genome_relation.json", aro_root)
    info = ds.info
    assert (info.name, info.task, info.benchmark, info.num_options, info.num_samples) == (
        "aro-vg-relation", "captions", "aro-relation", 2, 5)  # fmt: skip
    assert ds.records[0].texts == (
        "the grass is eating the horse",
        "the horse is eating the grass",
    )  # [false, true]
    assert [r.answer for r in ds.records] == [1] * 5
    assert [r.meta for r in ds.records] == [
        {"relation": "eating"}, {"relation": "sitting on"}, {"relation": "next to"}, {"relation": "on"},
        {"relation": "eating"},
    ]  # fmt: skip
    assert [ds.sample_id(i) for i in range(3)] == [
        "00000-2315588.jpg",
        "00001-2315588.jpg",
        "00002-2315589.jpg",
    ]
    item = ds[3]
    assert item["texts"] == ["the table is on the book", "the book is on the table"]
    assert item["answer"] == 1 and item["label"] == 1
    # record 3: bbox (x, y, w, h) = (3, 0, 16 + 3, 10 + 1) inside the 32 x 24 image 2315589.jpg
    assert ds.records[3].image.path == aro_root / "images" / "2315589.jpg"
    assert ds.records[3].image.box == (3, 0, 19, 11)
    assert item["image"].size == (19, 11)
    with Image.open(aro_root / "images" / "2315589.jpg") as full:
        assert full.size == (32, 24)
        expected = np.asarray(full.convert("RGB").crop((3, 0, 22, 11)))
    assert np.array_equal(np.asarray(item["image"]), expected)


def test_vg_attribution_round_trip(aro_root):
    ds = read_vg_attribution(aro_root / "visual_genome_attribution.json", aro_root)
    info = ds.info
    assert (info.name, info.benchmark, info.num_options, info.num_samples) == (
        "aro-vg-attribution", "aro-attribution", 2, 4)  # fmt: skip
    assert ds.records[0].texts == ("the white road and the paved house", "the paved road and the white house")
    assert [r.meta["attributes"] for r in ds.records] == [
        "paved_white",
        "wooden_red",
        "green_metal",
        "paved_white",
    ]
    assert ds[2]["image"].size == (16 + 2, 10 + 0)
    assert ds.skipped == ()


def test_symmetric_relations_are_the_official_list():
    assert len(SYMMETRIC_RELATIONS) == 157 and len(set(SYMMETRIC_RELATIONS)) == 157
    assert SYMMETRIC_RELATIONS[:3] == ("adjusting", "attached to", "between")
    assert SYMMETRIC_RELATIONS[-3:] == ("beside", "on the side of", "around")
    for name in ("next to", "lying on top of", "parked in front of", "wrapped in", "of", "by"):
        assert name in SYMMETRIC_RELATIONS
    for name in ("on", "eating", "sitting on", "to the left of"):
        assert name not in SYMMETRIC_RELATIONS


def _set(i, key, value):
    def edit(records):
        records[i][key] = value

    return edit


def _drop(i, key):
    return lambda records: records[i].pop(key)


@pytest.mark.parametrize(
    ("kind", "edit", "index", "message"),
    [
        ("relation", _drop(2, "true_caption"), 2, "missing key 'true_caption'"),
        ("relation", _drop(1, "relation_name"), 1, "missing key 'relation_name'"),
        ("relation", _set(3, "bbox_w", "12"), 3, "key 'bbox_w' must be int/float, got str '12'"),
        ("relation", _set(0, "bbox_x", True), 0, "key 'bbox_x' must be int/float, got bool"),
        ("relation", _set(4, "false_caption", "  "), 4, "key 'false_caption' is empty"),
        ("relation", _set(2, "image_path", None), 2, "key 'image_path' must be str, got NoneType"),
        ("attribution", _set(1, "attributes", ["paved"]), 1, "key 'attributes' must be a list of 2 strings"),
        ("attribution", _set(2, "attributes", [1, 2]), 2, "key 'attributes' must be a list of 2 strings"),
        ("attribution", _set(0, "attributes", "paved_white"), 0, "key 'attributes' must be list, got str"),
        ("attribution", lambda r: r.__setitem__(3, "record"), 3, "expected an object, got str"),
    ],
)
def test_bad_records_name_the_file_and_record(aro_root, tmp_path, kind, edit, index, message):
    path = _rewrite(aro_root / f"visual_genome_{kind}.json", tmp_path, edit)
    read = read_vg_relation if kind == "relation" else read_vg_attribution
    with pytest.raises(DatasetFormatError) as err:
        read(path, aro_root)
    assert str(err.value).startswith(f"{path}: record {index}: ")
    assert message in str(err.value)


def test_missing_image_raises_or_is_a_counted_skip(tmp_path, caplog):
    json_path = write_vg_relation(tmp_path, n=5)
    gone = tmp_path / "images" / "2315588.jpg"  # records 0 and 1
    gone.unlink()
    with pytest.raises(DatasetFormatError) as err:
        read_vg_relation(json_path, tmp_path)
    assert str(err.value) == f"{gone}: image file not found (record 0 of {json_path})"
    with caplog.at_level(logging.WARNING):
        ds = read_vg_relation(json_path, tmp_path, on_missing="skip")
    assert [ds.sample_id(i) for i in range(len(ds))] == [
        "00002-2315589.jpg",
        "00003-2315589.jpg",
        "00004-2315590.jpg",
    ]
    assert ds.info.num_samples == 3 and len(ds.skipped) == 2
    assert "skipped 2 bad input(s), kept 3 samples" in caplog.text


def test_a_box_outside_the_image_fails_at_load_naming_the_file(aro_root, tmp_path):
    path = _rewrite(aro_root / "visual_genome_relation.json", tmp_path, _set(0, "bbox_x", 40))
    ds = read_vg_relation(path, aro_root)
    with pytest.raises(ImageCropError, match=r"2315588\.jpg: crop box \(x=40"):
        ds[0]
