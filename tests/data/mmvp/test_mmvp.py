"""MMVP and MMVP-VLM: official layout round trip, row-position images, GT fix, pairs/patterns, bad input."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from vlmrobust.data.imagenet.fixtures.images import class_color
from vlmrobust.data.imagenet.samples import DatasetFormatError
from vlmrobust.data.mmvp import (
    parse_answer,
    parse_options,
    read_mmvp,
    read_mmvp_vlm,
    write_mmvp,
    write_mmvp_vlm,
)

MMVP_CSV = """Index,Question,Options,Correct Answer
1,Are the butterfly's wings closer to being open or closed?,(a) Open (b) Closed,(a)
2,Are the butterfly's wings closer to being open or closed?,(a) Open (b) Closed,(b)
3,"Looking at the dog, is it facing left or right?",(a) Left (b) Right,(b)
4,"Looking at the dog, is it facing left or right?",(a) Left (b) Right,(a)
"""
VLM_CSV_HEAD = """Question ID,Type,Statement
1,Orientation,The butterfly's wings are open
2,Orientation,The butterfly's wings are closed
3,Orientation,The dog is facing left
4,Orientation,The dog is facing right
"""


def _near(pixel: tuple[int, ...], color: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 4 for a, b in zip(pixel, color, strict=True))  # JPEG of a uniform colour


@pytest.fixture(scope="module")
def mmvp(tmp_path_factory) -> Path:
    return write_mmvp(tmp_path_factory.mktemp("mmvp"), 2)


@pytest.fixture(scope="module")
def mmvp_full(tmp_path_factory) -> Path:
    return write_mmvp(tmp_path_factory.mktemp("mmvp300"), 150, image_size=4)


@pytest.fixture(scope="module")
def vlm(tmp_path_factory) -> Path:
    return write_mmvp_vlm(tmp_path_factory.mktemp("vlm"), 17)  # 15 Orientation pairs + 2 Presence pairs


def _copy(src: Path, dst: Path, csv_text: str | None = None) -> Path:
    shutil.copytree(src, dst)
    if csv_text is not None:
        (dst / "Questions.csv").write_text(csv_text)
    return dst


def test_mmvp_fixture_is_the_official_layout(mmvp):
    assert (mmvp / "Questions.csv").read_text() == MMVP_CSV
    assert sorted(p.name for p in (mmvp / "MMVP Images").iterdir()) == ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]


def test_mmvp_round_trip(mmvp):
    ds = read_mmvp(mmvp)
    assert (ds.info.name, ds.info.task, ds.info.benchmark, ds.info.num_options) == (
        "mmvp",
        "captions",
        "mmvp",
        2,
    )
    assert ds.info.num_samples == 4 and len(ds) == 4
    assert [ds.sample_id(i) for i in range(4)] == ["1", "2", "3", "4"]
    assert [r.texts for r in ds.records] == [("Open", "Closed")] * 2 + [("Left", "Right")] * 2
    assert [r.answer for r in ds.records] == [0, 1, 1, 0]
    assert [r.meta["pair"] for r in ds.records] == [0, 0, 1, 1]
    assert [r.meta["row"] for r in ds.records] == [1, 2, 3, 4]
    assert ds.records[2].meta["options"] == "(a) Left (b) Right"
    assert ds.records[2].question == "Looking at the dog, is it facing left or right?"
    assert [r.image.path for r in ds.records] == [mmvp / "MMVP Images" / f"{k}.jpg" for k in (1, 2, 3, 4)]
    item = ds[2]
    assert item["texts"] == ["Left", "Right"] and item["answer"] == item["label"] == 1 and item["index"] == 2
    assert item["question"] == "Looking at the dog, is it facing left or right?"
    assert _near(item["image"].getpixel((0, 0)), class_color(3))


def test_mmvp_images_follow_the_row_position_not_the_index_column(mmvp, tmp_path):
    text = (
        MMVP_CSV.replace("\n1,", "\n40,")
        .replace("\n2,", "\n7,")
        .replace("\n3,", "\n2,")
        .replace("\n4,", "\n1,")
    )
    root = _copy(mmvp, tmp_path / "m", text)
    ds = read_mmvp(root)
    assert [r.image.path.name for r in ds.records] == ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]
    assert [ds.sample_id(i) for i in range(4)] == ["1", "2", "3", "4"]
    assert [r.meta["pair"] for r in ds.records] == [0, 0, 1, 1]
    assert _near(ds[0]["image"].getpixel((0, 0)), class_color(1))


def test_blank_lines_do_not_shift_positions(mmvp, tmp_path):
    root = _copy(mmvp, tmp_path / "m", MMVP_CSV.replace("\n3,", "\n\n3,") + "\n")
    ds = read_mmvp(root)
    assert [r.image.path.name for r in ds.records] == ["1.jpg", "2.jpg", "3.jpg", "4.jpg"]
    assert [r.answer for r in ds.records] == [0, 1, 1, 0]


def test_ground_truth_fix_swaps_exactly_rows_99_100_and_279_280(mmvp_full):
    plain, fixed = read_mmvp(mmvp_full), read_mmvp(mmvp_full, fix_ground_truth=True)
    assert fixed.info.name == "mmvp-fixed" and plain.info.name == "mmvp" and len(plain) == len(fixed) == 300
    changed = [
        int(a.sample_id) for a, b in zip(plain.records, fixed.records, strict=True) if a.answer != b.answer
    ]
    assert changed == [99, 100, 279, 280]
    by_row = {int(r.sample_id): r.answer for r in plain.records}
    # pair 49 (rows 99, 100) is odd: (b), (a); pair 139 (rows 279, 280) too
    assert (by_row[99], by_row[100], by_row[279], by_row[280]) == (1, 0, 1, 0)
    fixed_rows = {int(r.sample_id): r.answer for r in fixed.records}
    assert (fixed_rows[99], fixed_rows[100], fixed_rows[279], fixed_rows[280]) == (0, 1, 0, 1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ("(a) Open (b) Closed", ("Open", "Closed")),
        ("  (a)   Open   (b)Closed  ", ("Open", "Closed")),
        ("(A) Yes (B) No", ("Yes", "No")),
        ("(a) The left one (b) The right one", ("The left one", "The right one")),
    ],
)
def test_parse_options(options, expected):
    assert parse_options(options) == expected


@pytest.mark.parametrize("options", ["Open or Closed", "(a) Open", "(a) Open (b) Closed (c) Ajar", "x (a) A (b) B",
                                     "(b) Open (a) Closed", "(a) (b) Closed"])  # fmt: skip
def test_parse_options_rejects(options):
    with pytest.raises(ValueError, match="exactly two options"):
        parse_options(options)


@pytest.mark.parametrize(
    ("answer", "expected"), [("(a)", 0), ("(b)", 1), ("a", 0), ("(A)", 0), (" (B) ", 1), ("b", 1)]
)
def test_parse_answer(answer, expected):
    assert parse_answer(answer) == expected


@pytest.mark.parametrize("answer", ["(c)", "", "Open", "(a) Open", "ab"])
def test_parse_answer_rejects(answer):
    with pytest.raises(ValueError, match="is not '\\(a\\)' or '\\(b\\)'"):
        parse_answer(answer)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "Left (b) Right,(b)",
            "Left or Right,(b)",
            r"Questions.csv: row 3 \(line 4\): Options '\(a\) Left or Right' do not parse",
        ),
        ("Right,(a)\n", "Right,(c)\n", r"Questions.csv: row 4 \(line 5\): Correct Answer '\(c\)'"),
        ("(b)\n3,", "(b),extra\n3,", r"Questions.csv: row 2 \(line 3\) has 5 fields, the header 4"),
        ("Correct Answer", "Answer", r"Questions.csv: header .* lacks column\(s\) 'Correct Answer'"),
    ],
)
def test_mmvp_malformed_rows_name_file_and_row(mmvp, tmp_path, old, new, message):
    assert old in MMVP_CSV
    root = _copy(mmvp, tmp_path / "m", MMVP_CSV.replace(old, new, 1))
    with pytest.raises(DatasetFormatError, match=message):
        read_mmvp(root)


def test_mmvp_odd_row_count_is_an_error(mmvp, tmp_path):
    root = _copy(mmvp, tmp_path / "m", MMVP_CSV + "5,Is it?,(a) Yes (b) No,(a)\n")
    with pytest.raises(DatasetFormatError, match=r"Questions.csv: 5 rows, an odd number"):
        read_mmvp(root)


def test_mmvp_missing_image_raises_or_is_a_counted_skip(mmvp, tmp_path, caplog):
    root = _copy(mmvp, tmp_path / "m")
    (root / "MMVP Images" / "3.jpg").unlink()
    with pytest.raises(
        DatasetFormatError, match=r"MMVP Images/3.jpg: image file not found \(row 3 of .*Questions.csv\)"
    ):
        read_mmvp(root)
    with caplog.at_level(logging.WARNING):
        ds = read_mmvp(root, on_missing="skip")
    assert [ds.sample_id(i) for i in range(len(ds))] == ["1", "2", "4"] and ds.info.num_samples == 3
    assert [r.meta["pair"] for r in ds.records] == [0, 0, 1]
    assert "skipped 1 bad input(s), kept 3 samples" in caplog.text


def test_mmvp_missing_csv_names_it(tmp_path):
    with pytest.raises(DatasetFormatError, match=r"Questions.csv: file not found"):
        read_mmvp(tmp_path)


def test_mmvp_vlm_fixture_is_the_official_layout(vlm):
    lines = (vlm / "Questions.csv").read_text().splitlines()
    assert "\n".join(lines[:5]) + "\n" == VLM_CSV_HEAD
    assert lines[31] == "31,Presence,The butterfly's wings are open"
    assert lines[5] == '5,Orientation,"There is text, on the sign"'
    assert len(lines) == 35
    assert sorted(p.name for p in (vlm / "MLLM_VLM Images").iterdir()) == ["Orientation", "Presence"]
    assert sorted(int(p.stem) for p in (vlm / "MLLM_VLM Images" / "Presence").iterdir()) == [31, 32, 33, 34]


def test_mmvp_vlm_round_trip(vlm):
    ds = read_mmvp_vlm(vlm)
    info = ds.info
    assert (info.name, info.task, info.benchmark, info.num_options, info.num_samples) == (
        "mmvp-vlm", "images", "mmvp-vlm", 2, 34)  # fmt: skip
    assert [ds.sample_id(i) for i in range(4)] == ["1", "2", "3", "4"]
    assert [r.answer for r in ds.records[:4]] == [0, 1, 0, 1]
    assert [r.text for r in ds.records[:2]] == ["a photo of The butterfly's wings are open",
                                                 "a photo of The butterfly's wings are closed"]  # fmt: skip
    assert ds.records[4].text == "a photo of There is text, on the sign"
    assert [r.meta["pair"] for r in ds.records[:4]] == [0, 0, 1, 1]
    assert ds.records[29].meta == {"pair": 14, "pattern": "Orientation and Direction"}
    assert ds.records[30].meta == {"pair": 15, "pattern": "Presence of Specific Features"}
    assert ds.records[33].meta == {"pair": 16, "pattern": "Presence of Specific Features"}
    folder = vlm / "MLLM_VLM Images"
    assert ds.records[30].images == ds.records[31].images
    assert [ref.path for ref in ds.records[31].images] == [
        folder / "Presence" / "31.jpg",
        folder / "Presence" / "32.jpg",
    ]
    item = ds[31]
    assert item["answer"] == item["label"] == 1 and item["index"] == 31
    assert _near(item["images"][0].getpixel((0, 0)), class_color(31))
    assert _near(item["images"][1].getpixel((0, 0)), class_color(32))


def test_mmvp_vlm_uses_the_first_rows_type_for_both_images(vlm, tmp_path):
    text = (vlm / "Questions.csv").read_text().replace("\n32,Presence,", "\n32,Color,")
    root = _copy(vlm, tmp_path / "v", text)
    ds = read_mmvp_vlm(root)
    assert [ref.path.parent.name for ref in ds.records[31].images] == ["Presence", "Presence"]
    text = text.replace("\n31,Presence,", "\n31,Orientation,")
    (root / "Questions.csv").write_text(text)
    shutil.move(
        root / "MLLM_VLM Images" / "Presence" / "31.jpg", root / "MLLM_VLM Images" / "Orientation" / "31.jpg"
    )
    shutil.move(
        root / "MLLM_VLM Images" / "Presence" / "32.jpg", root / "MLLM_VLM Images" / "Orientation" / "32.jpg"
    )
    ds = read_mmvp_vlm(root)
    assert [ref.path.parent.name for ref in ds.records[30].images] == ["Orientation", "Orientation"]
    assert ds.records[30].meta["pattern"] == "Presence of Specific Features"  # patterns by position, not Type


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "\n3,Orientation",
            "\nx3,Orientation",
            r"Questions.csv: row 3 \(line 4\): Question ID 'x3' is not an integer",
        ),
        ("\n4,Orientation", "\n5,Orientation", r"Questions.csv: row 3 \(line 4\): pair 1 has qids 3, 5"),
        ("\n3,Orientation", "\n1,Orientation", r"Questions.csv: row 3 \(line 4\): pair 1 has qids 1, 4"),
        ("\n3,Orientation,The dog is facing left", "\n3,,x", r"Questions.csv: row 3 \(line 4\): empty Type"),
        ("Type,Statement", "Kind,Statement", r"Questions.csv: header .* lacks column\(s\) 'Type'"),
    ],
)
def test_mmvp_vlm_malformed_rows_name_file_and_row(vlm, tmp_path, old, new, message):
    text = (vlm / "Questions.csv").read_text()
    assert old in text
    root = _copy(vlm, tmp_path / "v", text.replace(old, new, 1))
    with pytest.raises(DatasetFormatError, match=message):
        read_mmvp_vlm(root)


def test_mmvp_vlm_repeated_pair_is_an_error(vlm, tmp_path):
    root = _copy(vlm, tmp_path / "v", VLM_CSV_HEAD + "1,Orientation,again\n2,Orientation,again\n")
    with pytest.raises(DatasetFormatError, match=r"Questions.csv: row 5 \(line 6\): qid 1 repeats"):
        read_mmvp_vlm(root)


def test_mmvp_vlm_odd_rows_and_too_many_pairs_are_errors(vlm, tmp_path):
    root = _copy(vlm, tmp_path / "v", VLM_CSV_HEAD + "5,Orientation,x\n")
    with pytest.raises(DatasetFormatError, match=r"Questions.csv: 5 rows, an odd number"):
        read_mmvp_vlm(root)
    rows = "".join(f"{q},Orientation,s\n" for q in range(1, 2 * 136 + 1))
    (root / "Questions.csv").write_text("Question ID,Type,Statement\n" + rows)
    with pytest.raises(
        DatasetFormatError, match=r"Questions.csv: 136 pairs, but MMVP-VLM has 9 patterns of 15"
    ):
        read_mmvp_vlm(root)


def test_mmvp_vlm_missing_image_raises_or_skips_its_pair(vlm, tmp_path, caplog):
    root = _copy(vlm, tmp_path / "v")
    (root / "MLLM_VLM Images" / "Orientation" / "4.jpg").unlink()
    with pytest.raises(
        DatasetFormatError, match=r"Orientation/4.jpg: image file not found \(pair 1, rows 3-4 of"
    ):
        read_mmvp_vlm(root)
    with caplog.at_level(logging.WARNING):
        ds = read_mmvp_vlm(root, on_missing="skip")
    assert len(ds) == 32 and [ds.sample_id(i) for i in range(4)] == ["1", "2", "5", "6"]
    assert [r.meta["pair"] for r in ds.records[:4]] == [0, 0, 2, 2]
    assert ds.records[29].meta == {"pair": 15, "pattern": "Presence of Specific Features"}
    assert "skipped 1 bad input(s), kept 32 samples" in caplog.text


def test_fixture_writers_validate_counts(tmp_path):
    with pytest.raises(ValueError, match=r"0\.\.135"):
        write_mmvp_vlm(tmp_path / "v", 136)
    with pytest.raises(ValueError, match=">= 0"):
        write_mmvp(tmp_path / "m", -1)
