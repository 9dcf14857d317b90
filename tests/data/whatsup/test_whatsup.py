"""What'sUp readers: Controlled_Images A/B and COCO-/GQA-spatial round trips, official grouping, bad input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlmrobust.data.imagenet.samples import DatasetFormatError
from vlmrobust.data.whatsup import (
    WhatsUpFiles,
    object_pair,
    read_spatial,
    read_whatsup,
    spatial_relation,
    write_spatial,
    write_whatsup,
)


@pytest.fixture(scope="module")
def subset_a(tmp_path_factory) -> WhatsUpFiles:
    return write_whatsup(tmp_path_factory.mktemp("whatsup-a"), "A")


def _rewrite(files: WhatsUpFiles, tmp_path: Path, edit) -> Path:
    records = json.loads(files.json_path.read_text())
    edit(records)
    path = tmp_path / files.json_path.name
    path.write_text(json.dumps(records))
    return path


def _blue(image: Image.Image) -> float:
    return float(np.asarray(image)[..., 2].mean())


def test_subset_a_round_trip(subset_a):
    ds = read_whatsup(subset_a.json_path, subset_a.image_root, "A")
    info = ds.info
    assert (info.name, info.task, info.benchmark, info.num_options, info.num_samples) == (
        "whatsup-a", "captions", "whatsup", 4, 12)  # fmt: skip
    assert info.class_names == () and info.templates == () and info.id_set is None
    assert ds.records[0].texts == (
        "A beer bottle on a armchair",
        "A beer bottle under a armchair",
        "A beer bottle to the left of a armchair",
        "A beer bottle to the right of a armchair",
    )
    assert ds.records[5].texts == (
        "A water filter under a table",
        "A water filter on a table",
        "A water filter to the left of a table",
        "A water filter to the right of a table",
    )
    assert [ds.sample_id(i) for i in range(4, 8)] == [
        "water-filter_on_table.jpeg",
        "water-filter_under_table.jpeg",
        "water-filter_left_of_table.jpeg",
        "water-filter_right_of_table.jpeg",
    ]
    metas = [ds[i]["meta"] for i in range(4, 8)]
    assert metas == [
        {"group": "water-filter|table", "relation": "on", "opposite": 1},
        {"group": "water-filter|table", "relation": "under", "opposite": 1},
        {"group": "water-filter|table", "relation": "left", "opposite": 3},
        {"group": "water-filter|table", "relation": "right", "opposite": 3},
    ]
    item = ds[5]
    assert item["answer"] == 0 and item["label"] == 0 and item["index"] == 5
    assert ds.records[5].image.path == subset_a.image_root / "water-filter_under_table.jpeg"
    assert item["image"].size == (24, 24)
    assert (
        abs(_blue(item["image"]) - (40 + 53 * 5) % 256) < 4
    )  # image k of the file has blue (40 + 53k) % 256
    assert ds.skipped == ()


def test_subset_b_relations_and_opposites(tmp_path):
    files = write_whatsup(tmp_path, "B", pairs=[("cereal-box", "plate")])
    assert files.json_path == tmp_path / "controlled_clevr_dataset.json"
    assert json.loads(files.json_path.read_text())[0]["image_path"] == (
        "data/controlled_clevr/cereal-box_in-front_of_plate.jpeg")  # fmt: skip
    ds = read_whatsup(files.json_path, files.image_root, "B")
    assert ds.info.name == "whatsup-b"
    assert ds.records[1].texts[:2] == ("A cereal box behind a plate", "A cereal box in front of a plate")
    assert [dict(r.meta) for r in ds.records] == [
        {"group": "cereal-box|plate", "relation": "in-front", "opposite": 1},
        {"group": "cereal-box|plate", "relation": "behind", "opposite": 1},
        {"group": "cereal-box|plate", "relation": "left", "opposite": 3},
        {"group": "cereal-box|plate", "relation": "right", "opposite": 3},
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("beer-bottle_left_of_armchair.jpeg", ("beer-bottle", "left", "armchair")),
        ("beer-bottle_on_armchair.jpeg", ("beer-bottle", "on", "armchair")),
        ("cereal-box_in-front_of_plate.jpeg", ("cereal-box", "in-front", "plate")),
        ("remote_behind_water-filter.jpeg", ("remote", "behind", "water-filter")),
        ("red-circle_right_of_blue-square.jpeg", ("red-circle", "right", "blue-square")),
    ],
)
def test_grouping_follows_the_official_rule(name, expected):
    assert object_pair(name) == expected
    tokens = name.split("_")  # the official expression, side by side
    assert (tokens[0], tokens[1], tokens[-1][:-5]) == expected


def test_every_group_holds_its_four_relations(subset_a):
    ds = read_whatsup(subset_a.json_path, subset_a.image_root, "A")
    groups: dict[str, list[str]] = {}
    for r in ds.records:
        groups.setdefault(r.meta["group"], []).append(r.meta["relation"])
    assert groups == {g: ["on", "under", "left", "right"] for g in ("beer-bottle|armchair", "water-filter|table",
                                                                    "mug|chair")}  # fmt: skip


def test_image_path_keeps_only_the_file_name(subset_a, tmp_path):
    def edit(records):
        records[0]["image_path"] = (
            "/elsewhere/whatsup_vlms/data/controlled_images/beer-bottle_on_armchair.jpeg"
        )

    ds = read_whatsup(_rewrite(subset_a, tmp_path, edit), subset_a.image_root, "A")
    assert ds.records[0].image.path == subset_a.image_root / "beer-bottle_on_armchair.jpeg"


def test_repeated_image_paths_are_kept_with_numbered_ids(subset_a, tmp_path):
    ds = read_whatsup(
        _rewrite(subset_a, tmp_path, lambda r: r.extend([r[0], r[0]])), subset_a.image_root, "A"
    )
    assert len(ds) == 14 and ds.info.num_samples == 14
    assert [ds.sample_id(i) for i in (0, 12, 13)] == [
        "beer-bottle_on_armchair.jpeg",
        "beer-bottle_on_armchair.jpeg#2",
        "beer-bottle_on_armchair.jpeg#3",
    ]
    assert ds.records[12].meta == ds.records[0].meta


def _set(i, key, value):
    def edit(records):
        records[i][key] = value

    return edit


def _option(i, j, text):
    def edit(records):
        records[i]["caption_options"][j] = text

    return edit


def _swap_gold(i, j):
    def edit(records):
        options = records[i]["caption_options"]
        options[0], options[j] = options[j], options[0]

    return edit


@pytest.mark.parametrize(
    ("edit", "index", "message"),
    [
        (_set(2, "image_path", "data/controlled_images/mug_beside_chair.jpeg"), 2,
         "unknown relation 'beside' in file name 'mug_beside_chair.jpeg' for subset A"),
        (_set(1, "caption_options", ["A x on a y", "A x under a y", "A x to the left of a y"]), 1,
         "'caption_options' must be 4 non-empty strings"),
        (_option(3, 2, 7), 3, "'caption_options' must be 4 non-empty strings"),
        (_set(4, "image_path", 17), 4, "key 'image_path' must be str, got int"),
        (lambda r: r[6].pop("caption_options"), 6, "missing key 'caption_options'"),
        (_set(7, "image_path", "data/controlled_images/mug.jpeg"), 7, "is not <obj1>_<relation>_<obj2>"),
        (_option(0, 1, "A beer bottle beneath a armchair"), 0,
         "expected exactly one caption with the opposite preposition 'under'"),
        (_option(4, 0, "A water filter under a table"), 4, "expected exactly one caption"),
        (_swap_gold(10, 3), 10, "the correct caption 'A mug to the right of a chair' has the opposite preposition "
         "'right' of the file name's relation 'left'"),
        (lambda r: r.__setitem__(5, ["a", "list"]), 5, "expected an object, got list"),
    ],
)  # fmt: skip
def test_bad_records_name_the_file_and_record(subset_a, tmp_path, edit, index, message):
    path = _rewrite(subset_a, tmp_path, edit)
    with pytest.raises(DatasetFormatError) as err:
        read_whatsup(path, subset_a.image_root, "A")
    assert str(err.value).startswith(f"{path}: record {index}: ")
    assert message in str(err.value)


def test_a_file_read_as_another_subset_lists_the_valid_relations(subset_a):
    with pytest.raises(DatasetFormatError, match=r"record 0: unknown relation 'on' .* subset world\. .*"
                                                 r"Valid relations: above, below, left, right"):  # fmt: skip
        read_whatsup(subset_a.json_path, subset_a.image_root, "world")


def test_not_an_array_or_not_json(tmp_path):
    bad = tmp_path / "controlled_images_dataset.json"
    bad.write_text('{"image_path": "x"}')
    with pytest.raises(DatasetFormatError, match=r"controlled_images_dataset\.json: expected a JSON array"):
        read_whatsup(bad, tmp_path, "A")
    bad.write_text("[{")
    with pytest.raises(DatasetFormatError, match=r"controlled_images_dataset\.json: not valid JSON"):
        read_whatsup(bad, tmp_path, "A")


def test_missing_image_raises_or_is_a_counted_skip(tmp_path, caplog):
    files = write_whatsup(tmp_path, "A")
    gone = files.image_root / "mug_under_chair.jpeg"
    gone.unlink()
    with pytest.raises(DatasetFormatError) as err:
        read_whatsup(files.json_path, files.image_root, "A")
    assert str(err.value) == f"{gone}: image file not found (record 9 of {files.json_path})"
    with caplog.at_level(logging.WARNING):
        ds = read_whatsup(files.json_path, files.image_root, "A", on_missing="skip")
    assert len(ds) == 11 and ds.info.num_samples == 11
    assert [s.path for s in ds.skipped] == [str(gone)]
    assert "mug_under_chair.jpeg" not in [ds.sample_id(i) for i in range(len(ds))]
    assert "skipped 1 bad input(s), kept 11 samples" in caplog.text


def test_unknown_subset():
    with pytest.raises(ValueError, match="unknown What'sUp subset 'C'"):
        read_whatsup("x.json", ".", "C")  # type: ignore[arg-type]


SPATIAL_EXPECTED = {
    ("coco", "one"): ["bottom", "left", "top", "right"],
    ("coco", "two"): ["left", "right", "above", "below"],
    ("gqa", "one"): ["left", "bottom", "top", "right"],
    ("gqa", "two"): [
        "left",
        "front",
        "behind",
        "top",
    ],  # official: GQA two-object "above" falls through to top
}


@pytest.mark.parametrize(("source", "objects"), list(SPATIAL_EXPECTED))
def test_spatial_round_trip(tmp_path, source, objects):
    files = write_spatial(tmp_path, source, objects, n=5)
    ds = read_spatial(files.json_path, files.image_root, source, objects)
    info = ds.info
    assert (info.name, info.task, info.benchmark, info.num_options, info.num_samples) == (
        f"{source}-spatial-{objects}", "captions", "spatial", 2, 5)  # fmt: skip
    assert [r.meta["relation"] for r in ds.records] == [
        *SPATIAL_EXPECTED[source, objects],
        SPATIAL_EXPECTED[source, objects][0],
    ]
    raw = json.loads(files.json_path.read_text())
    assert [r.texts for r in ds.records] == [(c, w) for _, c, w in raw]
    assert all(r.answer == 0 for r in ds.records)
    first = 397133 if source == "coco" else 2354786
    assert [ds.sample_id(i) for i in range(3)] == [f"00000-{first}", f"00001-{first}", f"00002-{first + 1}"]
    expected = (tmp_path / "val2017" / f"000000{first}.jpg" if source == "coco"
                else tmp_path / "vg_images" / f"{first}.jpg")  # fmt: skip
    assert ds.records[1].image.path == expected
    assert ds[1]["image"].size == (24, 24)
    assert abs(_blue(ds[2]["image"]) - (40 + 53) % 256) < 4  # records 2 and 3 show image 1


def test_spatial_official_labels_by_hand():
    assert spatial_relation("coco", "one", "A photo of a dog on the left") == "left"
    assert spatial_relation("coco", "two", "A photo of a cat above a sofa") == "above"
    assert spatial_relation("coco", "two", "A photo of a cat below a sofa") == "below"
    assert spatial_relation("gqa", "two", "A photo of a car in front of a house") == "front"
    assert spatial_relation("gqa", "two", "A photo of a lamp above a table") == "top"


def test_coco_string_and_int_ids_give_one_image(tmp_path):
    files = write_spatial(tmp_path, "coco", "one", n=2)
    records = json.loads(files.json_path.read_text())
    records[1][0] = str(records[1][0])
    files.json_path.write_text(json.dumps(records))
    ds = read_spatial(files.json_path, files.image_root, "coco", "one")
    assert ds.records[0].image.path == ds.records[1].image.path == tmp_path / "val2017" / "000000397133.jpg"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ([397133, "A photo of a dog on the left"], "expected [image_id, correct_caption, wrong_caption]"),
        ({"id": 1}, "expected [image_id, correct_caption, wrong_caption]"),
        (
            [True, "a on the left", "a on the right"],
            "image_id must be an int or a non-empty string, got True",
        ),
        ([1.5, "a on the left", "a on the right"], "image_id must be an int or a non-empty string"),
        ([1, "", "a on the right"], "the correct caption must be a non-empty string"),
        ([1, "a on the left", None], "the wrong caption must be a non-empty string, got None"),
    ],
)
def test_bad_spatial_records(tmp_path, record, message):
    files = write_spatial(tmp_path, "coco", "one", n=2)
    records = json.loads(files.json_path.read_text())
    records[1] = record
    files.json_path.write_text(json.dumps(records))
    with pytest.raises(DatasetFormatError) as err:
        read_spatial(files.json_path, files.image_root, "coco", "one")
    assert str(err.value).startswith(f"{files.json_path}: record 1: ") and message in str(err.value)


def test_missing_spatial_image_skips_every_record_on_it(tmp_path):
    files = write_spatial(tmp_path, "gqa", "two", n=4)
    gone = tmp_path / "vg_images" / "2354786.jpg"
    gone.unlink()
    with pytest.raises(DatasetFormatError, match=rf"^{gone}: image file not found \(record 0 of "):
        read_spatial(files.json_path, files.image_root, "gqa", "two")
    ds = read_spatial(files.json_path, files.image_root, "gqa", "two", on_missing="skip")
    assert [ds.sample_id(i) for i in range(len(ds))] == ["00002-2354787", "00003-2354787"]
    assert len(ds.skipped) == 2 and {s.path for s in ds.skipped} == {str(gone)}
