"""ImageNet val readers: the three layouts, clean / ReaL label sources, bad input."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from vlmrobust.data.imagenet import DatasetFormatError, detect_val_layout, read_imagenet_val
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet.metadata import wnids

# image number -> IN-1k index, written out of order; golden: sorted by number
LABELS = {12: 999, 1: 65, 2: 970, 7: 0, 3: 65}
GOLDEN = [("ILSVRC2012_val_00000001", 65), ("ILSVRC2012_val_00000002", 970), ("ILSVRC2012_val_00000003", 65),
          ("ILSVRC2012_val_00000007", 0), ("ILSVRC2012_val_00000012", 999)]  # fmt: skip


def ids_labels(image_set):
    return [(s.sample_id, s.label) for s in image_set]


def test_folders_layout_round_trip(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", LABELS)
    assert (root / "n01751748" / "ILSVRC2012_val_00000001.JPEG").is_file()
    got = read_imagenet_val(root)
    assert ids_labels(got) == GOLDEN
    assert got.name == "imagenet-val" and got.id_set is None and not got.multi_label
    assert got.samples[0].path == str(root / "n01751748" / "ILSVRC2012_val_00000001.JPEG")
    assert got.samples[0].in1k_labels == (65,) and got.classes.is_full and got.skipped == ()


def test_devkit_layout_maps_devkit_ids_through_meta_mat(tmp_path):
    images, devkit = fx.write_val_devkit(tmp_path, LABELS)
    gt = (devkit / "data" / "ILSVRC2012_validation_ground_truth.txt").read_text().splitlines()
    # default devkit order is reverse-sorted: IN-1k class k has devkit id 1000 - k
    assert gt[:3] == ["935", "30", "935"] and gt[6] == "1000" and gt[11] == "1" and len(gt) == 12
    got = read_imagenet_val(images)
    assert ids_labels(got) == GOLDEN
    assert got.samples[1].path == str(images / "ILSVRC2012_val_00000002.JPEG")


def test_devkit_archive_and_custom_id_order(tmp_path):
    order = [*wnids()[1:], wnids()[0]]  # class k has id k for k >= 1, class 0 has id 1000
    images, devkit = fx.write_val_devkit(tmp_path, LABELS, id_order=order, archive=True)
    assert devkit.name == "ILSVRC2012_devkit_t12.tar.gz"
    assert ids_labels(read_imagenet_val(images, layout="devkit", devkit=devkit)) == GOLDEN


def test_kaggle_layout_round_trip(tmp_path):
    root = fx.write_val_kaggle(tmp_path, LABELS, seed=3)
    lines = (root / "LOC_val_solution.csv").read_text().splitlines()
    assert lines[0] == "ImageId,PredictionString" and len(lines) == 6
    assert lines[1:] != sorted(lines[1:])  # rows are not sorted by id, as in the real file
    row = next(x for x in lines if x.startswith("ILSVRC2012_val_00000001,"))
    assert row.split(",")[1].split()[0] == "n01751748"
    assert (root / "LOC_synset_mapping.txt").read_text().splitlines()[0] == "n01440764 tench, Tinca tinca"
    assert ids_labels(read_imagenet_val(root)) == GOLDEN


def test_layout_detection(tmp_path):
    fx.write_val_folders(tmp_path / "tv" / "val", LABELS)  # torchvision ImageNet root: root/val/<wnid>/
    assert detect_val_layout(tmp_path / "tv") == ("folders", tmp_path / "tv" / "val")
    assert ids_labels(read_imagenet_val(tmp_path / "tv")) == GOLDEN
    images, _ = fx.write_val_devkit(tmp_path / "flat", LABELS)
    assert detect_val_layout(images)[0] == "devkit"
    assert detect_val_layout(fx.write_val_kaggle(tmp_path / "kg", LABELS))[0] == "kaggle"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetFormatError, match="cannot tell the ImageNet val layout"):
        read_imagenet_val(tmp_path / "empty")


def test_clean_labels_multi_label_and_exclusion(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", {1: 65, 2: 970, 3: 230, 4: 809, 5: 516})
    csv_path = fx.write_clean_labels(tmp_path / "clean_validation.csv", [
        (2, 970, [970, 795], "+"),  # M: multi-label
        (1, 65, [65], "*"),  # A: confirmed
        (3, 230, [231], "+*"),  # B: a different single label
        (5, 516, [], "*"),  # no valid label: excluded
    ])  # fmt: skip
    text = csv_path.read_text()
    assert text.splitlines()[:2] == ["id,original_label,proposed_labels,validation",
                                     'ILSVRC2012_val_00000002.JPEG,970,"970, 795",+']  # fmt: skip
    got = read_imagenet_val(root, labels="clean", label_file=csv_path)
    assert got.name == "imagenet-val-clean" and got.multi_label
    assert [(s.sample_id[-1], s.labels) for s in got] == [("1", (65,)), ("2", (970, 795)), ("3", (231,))]
    assert got.samples[1].in1k_labels == (970, 795) and got.samples[1].label == 970
    assert got.excluded == 2  # image 4 not listed, image 5 without a valid label
    assert [s.official for s in got] == [65, 970, 230]  # the official label, kept beside the clean set
    assert got.samples[2].official_label == 230 and got.samples[2].label == 231


def test_clean_labels_disagreeing_original_is_an_error(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", {1: 65, 2: 970})
    csv_path = fx.write_clean_labels(tmp_path / "c.csv", [(1, 65, [65], "*"), (2, 971, [971], "+")])
    with pytest.raises(DatasetFormatError, match=r"c\.csv:3: original_label 971 disagrees"):
        read_imagenet_val(root, labels="clean", label_file=csv_path)
    got = read_imagenet_val(root, labels="clean", label_file=csv_path, on_error="skip")
    assert [s.sample_id for s in got] == ["ILSVRC2012_val_00000001"] and len(got.skipped) == 1


def test_real_labels(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", {1: 65, 2: 970, 3: 230, 4: 809})
    path = fx.write_real_labels(tmp_path / "real.json", {2: [970, 795], 3: [230, 231], 4: [809]})
    assert path.read_text().startswith("[[], [970, 795], [230, 231], [809], [], ")
    got = read_imagenet_val(root, labels="real", label_file=path)
    assert got.name == "imagenet-val-real"
    assert [(s.sample_id[-1], s.labels) for s in got] == [("2", (970, 795)), ("3", (230, 231)), ("4", (809,))]
    assert got.excluded == 1  # image 1 has an empty ReaL entry
    assert [s.official for s in got] == [970, 230, 809]
    original = read_imagenet_val(root)
    assert {s.official for s in original} == {None} and original.samples[1].official_label == 970


def test_real_labels_short_file_and_bad_entry(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", {1: 65, 3: 230})
    short = fx.write_real_labels(tmp_path / "short.json", {1: [65]}, num_images=2)
    with pytest.raises(DatasetFormatError, match=r"short\.json: has 2 entries, none for .*val_00000003"):
        read_imagenet_val(root, labels="real", label_file=short)
    bad = tmp_path / "bad.json"
    bad.write_text('[[65], [1000], ["x"]]')
    with pytest.raises(DatasetFormatError, match=r"bad.json\[1\]: entry \[1000\]"):
        read_imagenet_val(root, labels="real", label_file=bad)
    with pytest.raises(ValueError, match="needs label_file"):
        read_imagenet_val(root, labels="real")


# ---- bad input -------------------------------------------------------------------------------------------


def test_missing_root_names_the_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nope")):
        read_imagenet_val(tmp_path / "nope")


def test_unknown_wnid_folder(tmp_path, caplog):
    root = fx.write_val_folders(tmp_path / "val", LABELS)
    fx.write_val_folders(tmp_path / "other", {1: 0})  # borrow one image
    (root / "n0144076").mkdir()
    with pytest.raises(DatasetFormatError, match=r"n0144076: unknown folder .* Did you mean 'n01440764'"):
        read_imagenet_val(root, layout="folders")
    with caplog.at_level(logging.WARNING):
        got = read_imagenet_val(root, layout="folders", on_error="skip")
    assert ids_labels(got) == GOLDEN and len(got.skipped) == 1
    assert "skipped 1 bad input(s), kept 5 samples" in caplog.text


def test_missing_class_folder(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", LABELS)
    shutil.rmtree(root / wnids()[500])
    with pytest.raises(DatasetFormatError, match=rf"{wnids()[500]}: missing class folder \(1 of 1000"):
        read_imagenet_val(root)
    assert len(read_imagenet_val(root, on_error="skip").skipped) == 1


def test_bad_file_names_and_duplicates_in_folders(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", LABELS)
    shutil.copy(root / wnids()[65] / fx.val_name(1), root / wnids()[66] / fx.val_name(1))
    with pytest.raises(DatasetFormatError, match="ILSVRC2012_val_00000001 occurs more than once"):
        read_imagenet_val(root)
    got = read_imagenet_val(root, on_error="skip")
    assert ids_labels(got) == GOLDEN[1:] and len(got.skipped) == 2  # both copies dropped, never guessed
    (root / wnids()[66] / fx.val_name(1)).unlink()
    (root / wnids()[3] / "photo.jpg").write_bytes(b"")
    (root / wnids()[3] / "notes.txt").write_text("x")
    with pytest.raises(DatasetFormatError, match=r"notes\.txt: not an image file"):
        read_imagenet_val(root)
    got = read_imagenet_val(root, on_error="skip")
    assert ids_labels(got) == GOLDEN and len(got.skipped) == 2
    assert (
        got.skipped[1].path.endswith("photo.jpg") and "not ILSVRC2012_val_XXXXXXXX" in got.skipped[1].reason
    )


def test_devkit_bad_ground_truth_line_and_missing_line(tmp_path):
    images, devkit = fx.write_val_devkit(tmp_path, LABELS)
    gt = devkit / "data" / "ILSVRC2012_validation_ground_truth.txt"
    lines = gt.read_text().splitlines()
    lines[1] = "x7"
    gt.write_text("\n".join(lines[:11]) + "\n")  # image 12 loses its line too
    with pytest.raises(DatasetFormatError, match=r"ground_truth.txt:2: 'x7' is not a devkit"):
        read_imagenet_val(images)
    got = read_imagenet_val(images, on_error="skip")
    assert ids_labels(got) == [GOLDEN[0], GOLDEN[2], GOLDEN[3]] and len(got.skipped) == 2
    assert "no line 12" in got.skipped[1].reason


def test_devkit_missing_and_broken_meta(tmp_path):
    images, devkit = fx.write_val_devkit(tmp_path, LABELS)
    shutil.rmtree(devkit)
    with pytest.raises(FileNotFoundError, match="need the devkit"):
        read_imagenet_val(images)
    images, devkit = fx.write_val_devkit(tmp_path / "b", LABELS)
    (devkit / "data" / "meta.mat").write_bytes(b"not a mat file")
    with pytest.raises((DatasetFormatError, ValueError), match=r"meta\.mat"):
        read_imagenet_val(images)


def test_kaggle_malformed_rows(tmp_path):
    root = fx.write_val_kaggle(tmp_path, LABELS)
    solution = root / "LOC_val_solution.csv"
    with open(solution, "a") as f:
        f.write("ILSVRC2012_val_00000020,n01440764 1 2 3\n")  # 4 tokens, not 5
        f.write("ILSVRC2012_val_00000021,n01440765 1 2 3 4\n")  # unknown wnid
        f.write("ILSVRC2012_val_00000022,n01440764 1 2 3 4 n01443537 1 2 3 4\n")  # disagreeing boxes
    with pytest.raises(DatasetFormatError, match=r"LOC_val_solution.csv:7: malformed row"):
        read_imagenet_val(root)
    got = read_imagenet_val(root, on_error="skip")
    assert ids_labels(got) == GOLDEN and len(got.skipped) == 3
    assert "unknown wnid 'n01440765'" in got.skipped[1].reason and "different wnids" in got.skipped[2].reason


def test_kaggle_image_without_row_and_bad_header(tmp_path):
    root = fx.write_val_kaggle(tmp_path, LABELS)
    images = root / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    shutil.copy(images / fx.val_name(1), images / fx.val_name(30))
    with pytest.raises(DatasetFormatError, match=r"ILSVRC2012_val_00000030.JPEG: no row"):
        read_imagenet_val(root)
    solution = root / "LOC_val_solution.csv"
    solution.write_text(solution.read_text().replace("ImageId,PredictionString", "id,label"))
    with pytest.raises(DatasetFormatError, match=r"LOC_val_solution.csv:1: header"):
        read_imagenet_val(root, on_error="skip")  # a wrong header is never skippable


def test_flat_names_with_wnid_suffix_are_checked_against_the_label(tmp_path):
    root = fx.write_val_kaggle(tmp_path, LABELS)
    images = root / "ILSVRC" / "Data" / "CLS-LOC" / "val"
    (images / fx.val_name(1)).rename(
        images / "ILSVRC2012_val_00000001_n01751748.JPEG"
    )  # HF naming, right wnid
    assert ids_labels(read_imagenet_val(root)) == GOLDEN
    (images / fx.val_name(2)).rename(images / "ILSVRC2012_val_00000002_n01440764.JPEG")  # wrong wnid
    with pytest.raises(DatasetFormatError, match="file name says n01440764 but its label is n09193705"):
        read_imagenet_val(root)


def test_clean_csv_malformed_row(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", {1: 65, 2: 970})
    path = fx.write_clean_labels(tmp_path / "c.csv", [(1, 65, [65], "*"), (2, 970, [970], "+")])
    with open(path, "a") as f:
        f.write("ILSVRC2012_val_00000003.JPEG,230,abc,+\n")
        f.write("ILSVRC2012_val_00000004.JPEG,809\n")
    with pytest.raises(DatasetFormatError, match=r"c.csv:4: malformed row"):
        read_imagenet_val(root, labels="clean", label_file=path)
    got = read_imagenet_val(root, labels="clean", label_file=path, on_error="skip")
    assert [s.labels for s in got] == [(65,), (970,)] and len(got.skipped) == 2


def test_bad_arguments(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", {1: 65})
    with pytest.raises(ValueError, match="Did you mean 'kaggle'"):
        read_imagenet_val(root, layout="kagle")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="on_error"):
        read_imagenet_val(root, on_error="ignore")  # type: ignore[arg-type]


def test_every_layout_gives_identical_samples_but_paths(tmp_path):
    a = read_imagenet_val(fx.write_val_folders(tmp_path / "a", LABELS))
    b = read_imagenet_val(fx.write_val_devkit(tmp_path / "b", LABELS)[0])
    c = read_imagenet_val(fx.write_val_kaggle(tmp_path / "c", LABELS))
    strip = [[(s.sample_id, s.labels, s.in1k_labels, Path(s.path).name) for s in x] for x in (a, b, c)]
    assert strip[0] == strip[1] == strip[2]
