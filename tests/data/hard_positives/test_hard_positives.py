"""Hard-positive benchmarks: (c, c_n, c_p) from two aligned files, image re-anchoring, alignment errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlmrobust.data.hard_positives import (
    HardPositiveFiles,
    read_hard_positives,
    replace_image_path,
    write_hard_positives,
)
from vlmrobust.data.imagenet.samples import DatasetFormatError


def _edit(path: Path, edit) -> None:
    records = json.loads(path.read_text())
    edit(records)
    path.write_text(json.dumps(records))


def test_replace_att_round_trip(tmp_path):
    files = write_hard_positives(tmp_path, "replace-att", n=4)
    assert files == HardPositiveFiles(tmp_path, tmp_path / "data")
    ds = read_hard_positives(files.root, "replace-att", files.image_root)
    info = ds.info
    assert (info.name, info.task, info.benchmark, info.num_options, info.num_samples) == (
        "hard-positives-replace-att", "captions", "hard-positives", 3, 4)  # fmt: skip
    assert ds.records[0].texts == (
        "walking elephant",
        "jumping elephant",
        "strolling elephant",
    )  # (c, c_n, c_p)
    assert ds.records[1].texts == ("hat ON seated man", "hat ON running man", "hat ON sitting man")
    assert [r.answer for r in ds.records] == [0] * 4
    assert [ds.sample_id(i) for i in range(4)] == [
        "00000-2401814",
        "00001-2401814",
        "00002-2401815",
        "00003-2401815",
    ]
    assert ds.records[0].image.path == tmp_path / "data" / "VG_100K" / "2401814.jpg"
    assert ds.records[2].image.path == tmp_path / "data" / "VG_100K_2" / "2401815.jpg"
    assert ds.records[2].image.box is None
    item = ds[2]
    assert item["image"].size == (32, 24) and item["answer"] == 0 and item["texts"][2] == "standing giraffe"
    assert ds.skipped == ()


def test_replace_rel_reads_the_relations_files(tmp_path):
    write_hard_positives(tmp_path, "replace-rel", n=2)
    assert (tmp_path / "swapped_data" / "vl_checklist_relations.json").is_file()
    ds = read_hard_positives(tmp_path, "replace-rel", tmp_path / "data")
    assert ds.info.name == "hard-positives-replace-rel"
    assert ds.records[1].texts == ("cup on table", "cup under table", "cup sitting on table")


def test_replace_image_path_rule(tmp_path):
    assert (
        replace_image_path("data/VG_100K_2/2401814.jpg", tmp_path) == tmp_path / "VG_100K_2" / "2401814.jpg"
    )
    assert replace_image_path("VG_100K/1.jpg", tmp_path) == tmp_path / "VG_100K" / "1.jpg"
    assert replace_image_path("other/data/VG_100K/1.jpg", tmp_path) == tmp_path / "other/data/VG_100K/1.jpg"


def test_swap_round_trip_crops_the_box(tmp_path):
    files = write_hard_positives(tmp_path, "swap", n=3)
    ds = read_hard_positives(files.root, "swap", files.image_root)
    assert ds.info.name == "hard-positives-swap" and ds.info.num_samples == 3
    assert ds.records[0].texts == (
        "the paved road and the white house",
        "the white road and the paved house",
        "the white house and the paved road",
    )
    assert ds.sample_id(1) == "00001-2401814.jpg"
    assert ds.records[1].image.path == tmp_path / "data" / "images" / "2401814.jpg"
    assert ds.records[1].image.box == (1, 1, 17, 11)
    assert ds[1]["image"].size == (17, 11)


def test_unaligned_files_name_both_files_and_the_index(tmp_path):
    write_hard_positives(tmp_path, "replace-att", n=4)
    data = tmp_path / "data" / "vl_checklist_attributes.json"
    swapped = tmp_path / "swapped_data" / "vl_checklist_attributes.json"
    _edit(swapped, lambda r: r[2].update(image_id="712954"))
    with pytest.raises(DatasetFormatError) as err:
        read_hard_positives(tmp_path, "replace-att", tmp_path / "data")
    assert str(err.value) == (f"{data} and {swapped}: record 2: image_id differs ('2401815' vs '712954'); "
                              "the two files are aligned by index")  # fmt: skip
    _edit(swapped, lambda r: r[2].update(image_id="2401815"))
    _edit(swapped, lambda r: r[1].update(false_caption="hat ON lying man"))
    with pytest.raises(
        DatasetFormatError, match=r"record 1: false_caption differs \('hat ON running man' vs"
    ):
        read_hard_positives(tmp_path, "replace-att", tmp_path / "data")
    _edit(swapped, lambda r: r.pop())
    with pytest.raises(DatasetFormatError, match=rf"^{data} has 4 records but {swapped} has 3"):
        read_hard_positives(tmp_path, "replace-att", tmp_path / "data")


def test_swap_alignment_compares_the_image_and_box(tmp_path):
    write_hard_positives(tmp_path, "swap", n=2)
    _edit(tmp_path / "swapped_data" / "visual_genome_attribution.json", lambda r: r[1].update(bbox_w=5))
    with pytest.raises(
        DatasetFormatError, match=r"record 1: image differs \('2401814.jpg cropped to \(1, 1, 17, 11\)'"
    ):
        read_hard_positives(tmp_path, "swap", tmp_path / "data")


def test_bad_records_name_the_file_and_record(tmp_path):
    write_hard_positives(tmp_path, "replace-att", n=3)
    swapped = tmp_path / "swapped_data" / "vl_checklist_attributes.json"
    _edit(swapped, lambda r: r[2].pop("true_caption"))
    with pytest.raises(DatasetFormatError, match=rf"^{swapped}: record 2: missing key 'true_caption'$"):
        read_hard_positives(tmp_path, "replace-att", tmp_path / "data")
    data = tmp_path / "data" / "vl_checklist_attributes.json"
    _edit(data, lambda r: r[0].update(image_id=[1]))
    with pytest.raises(
        DatasetFormatError, match=rf"^{data}: record 0: key 'image_id' must be str/int, got list"
    ):
        read_hard_positives(tmp_path, "replace-att", tmp_path / "data")


def test_int_image_ids_are_read_as_strings(tmp_path):
    write_hard_positives(tmp_path, "replace-att", n=2)
    for folder in ("data", "swapped_data"):
        _edit(tmp_path / folder / "vl_checklist_attributes.json", lambda r: r[0].update(image_id=2401814))
    ds = read_hard_positives(tmp_path, "replace-att", tmp_path / "data")
    assert ds.sample_id(0) == "00000-2401814"


def test_missing_image_raises_or_is_a_counted_skip(tmp_path):
    write_hard_positives(tmp_path, "replace-att", n=4)
    gone = tmp_path / "data" / "VG_100K_2" / "2401815.jpg"  # records 2 and 3
    gone.unlink()
    data = tmp_path / "data" / "vl_checklist_attributes.json"
    with pytest.raises(DatasetFormatError) as err:
        read_hard_positives(tmp_path, "replace-att", tmp_path / "data")
    assert str(err.value) == f"{gone}: image file not found (record 2 of {data})"
    ds = read_hard_positives(tmp_path, "replace-att", tmp_path / "data", on_missing="skip")
    assert [ds.sample_id(i) for i in range(len(ds))] == ["00000-2401814", "00001-2401814"]
    assert len(ds.skipped) == 2 and ds.info.num_samples == 2


def test_unknown_benchmark():
    with pytest.raises(
        ValueError, match=r"unknown hard-positive benchmark 'replace_att'\. Did you mean 'replace-att'"
    ):
        read_hard_positives(".", "replace_att", ".")  # type: ignore[arg-type]
