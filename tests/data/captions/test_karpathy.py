"""Karpathy split files: synthetic writer -> reader round trip, split selection, bad input, pair dataset."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from PIL import Image

from vlmrobust.data.captions import (
    CaptionPairDataset,
    KarpathyFiles,
    coco_file_name,
    read_karpathy,
    write_karpathy,
)
from vlmrobust.data.imagenet.samples import DatasetFormatError
from vlmrobust.data.world import CLASS_NAMES

COUNTS = {"train": 3, "restval": 2, "val": 1, "test": 2}  # imgids 0-2 train, 3-4 restval, 5 val, 6-7 test


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> KarpathyFiles:
    return write_karpathy(tmp_path_factory.mktemp("coco"), "coco", COUNTS, seed=3)


def _json(files: KarpathyFiles) -> dict:
    return json.loads(Path(files.json_path).read_text())


def _rewrite(files: KarpathyFiles, tmp_path: Path, edit) -> Path:
    data = _json(files)
    edit(data)
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps(data))
    return path


def test_coco_files_are_in_the_official_layout(coco):
    data = _json(coco)
    assert list(data) == ["images", "dataset"] and data["dataset"] == "coco"
    images = data["images"]
    assert [im["imgid"] for im in images] == list(range(8))
    assert [im["split"] for im in images] == ["train"] * 3 + ["restval"] * 2 + ["val"] + ["test"] * 2
    keys = ["filepath", "sentids", "filename", "imgid", "split", "sentences", "cocoid"]
    for im in images:
        assert list(im) == keys
        folder = "train2014" if im["split"] == "train" else "val2014"  # val/test/restval come from val2014
        assert im["filepath"] == folder
        assert re.fullmatch(rf"COCO_{folder}_\d{{12}}\.jpg", im["filename"])
        assert im["filename"] == f"COCO_{folder}_{im['cocoid']:012d}.jpg"
        assert [s["sentid"] for s in im["sentences"]] == im["sentids"]
        for s in im["sentences"]:
            assert list(s) == ["tokens", "raw", "imgid", "sentid"] and s["imgid"] == im["imgid"]
            assert s["tokens"] == re.findall(r"[a-z0-9]+", s["raw"].lower())
        with Image.open(coco.image_root / im["filepath"] / im["filename"]) as img:
            assert img.format == "JPEG" and img.size == (32, 32)
    # imgid 2 and 5 (imgid % 3 == 2) carry a sixth sentence, the others five
    assert [len(im["sentences"]) for im in images] == [5, 5, 6, 5, 5, 6, 5, 5]
    raws = [s["raw"] for im in images for s in im["sentences"]]
    assert any(r != r.strip() for r in raws)  # trailing spaces as in the real file
    assert len({s["sentid"] for im in images for s in im["sentences"]}) == len(raws)
    assert len({im["cocoid"] for im in images}) == 8
    assert coco_file_name("val2014", 391895) == "COCO_val2014_000000391895.jpg"


def test_round_trip_karpathy_train_is_train_plus_restval(coco):
    data = _json(coco)
    got = read_karpathy(coco.json_path, coco.image_root)
    assert got.splits == ("train", "restval") and got.dataset == "coco" and got.skipped == ()
    assert len(got) == 5 and got.num_captions == 5 + 5 + 6 + 5 + 5
    for rec, im in zip(got, data["images"][:5], strict=True):
        assert rec.image_path == str(coco.image_root / im["filepath"] / im["filename"])
        assert rec.split == im["split"] and rec.image_id == im["imgid"] and rec.coco_id == im["cocoid"]
        assert rec.captions == tuple(s["raw"].strip() for s in im["sentences"])
        assert rec.sentence_ids == tuple(im["sentids"])
        assert any(CLASS_NAMES[k] in rec.captions[0] for k in range(len(CLASS_NAMES)))  # meaningful captions


@pytest.mark.parametrize(
    ("splits", "imgids"),
    [(["train"], [0, 1, 2]), (["val"], [5]), (["test", "val"], [5, 6, 7]), (["restval", "restval"], [3, 4])],
)
def test_split_selection_keeps_file_order(coco, splits, imgids):
    got = read_karpathy(coco.json_path, coco.image_root, splits)
    assert [r.image_id for r in got] == imgids
    assert got.splits == tuple(dict.fromkeys(splits))


def test_unknown_split_names_valid_ones(coco):
    with pytest.raises(ValueError, match=r"'tset'.*Did you mean 'test'.*restval, test, train, val"):
        read_karpathy(coco.json_path, coco.image_root, ["train", "tset"])


def test_flickr30k_layout_has_no_filepath_and_a_flat_image_folder(tmp_path):
    files = write_karpathy(tmp_path, "flickr30k", {"train": 3, "val": 1, "test": 1}, seed=1)
    assert files.json_path == tmp_path / "dataset_flickr30k.json"
    assert files.image_root == tmp_path / "flickr30k-images"
    data = _json(files)
    assert data["dataset"] == "flickr30k"
    for im in data["images"]:
        assert list(im) == ["sentids", "imgid", "sentences", "split", "filename"]
        assert re.fullmatch(r"\d+\.jpg", im["filename"])
    assert sorted(p.name for p in files.image_root.iterdir()) == sorted(
        im["filename"] for im in data["images"]
    )
    assert [s for im in data["images"] for s in im["sentids"]] == list(range(5 + 5 + 6 + 5 + 5))
    got = read_karpathy(files.json_path, files.image_root)  # Karpathy train: Flickr30k has no restval
    assert len(got) == 3 and got.num_captions == 16
    assert all(r.coco_id is None and Path(r.image_path).parent == files.image_root for r in got)
    with pytest.raises(ValueError, match="flickr30k has no split 'restval'"):
        write_karpathy(tmp_path / "x", "flickr30k", {"restval": 1})


def _delete(key):
    return lambda d: d["images"][3].pop(key)


def _set(i, key, value):
    return lambda d: d["images"][i].__setitem__(key, value)


def _sentence(i, j, key, value=None):
    def edit(d):
        s = d["images"][i]["sentences"][j]
        s.pop(key) if value is None else s.__setitem__(key, value)

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_delete("sentences"), r"images\[3\]: missing key 'sentences'"),
        (_delete("filename"), r"images\[3\]: missing key 'filename'"),
        (_set(1, "imgid", "1"), r"images\[1\]: key 'imgid' must be int, got str '1'"),
        (_set(1, "imgid", True), r"images\[1\]: key 'imgid' must be int, got bool"),
        (
            _set(4, "split", "dev"),
            r"images\[4\]: unknown split 'dev'.*Valid splits: restval, test, train, val",
        ),
        (
            _set(7, "split", "Test"),
            r"images\[7\]: unknown split 'Test'",
        ),  # unrequested records are checked too
        (_set(2, "sentences", []), r"images\[2\]: key 'sentences' is empty"),
        (_set(2, "sentences", "a dog"), r"images\[2\]: key 'sentences' must be list, got str"),
        (_set(0, "sentids", [1, 2]), r"images\[0\]: 'sentids' \[1, 2\] differ from the sentences' sentid"),
        (_set(6, "imgid", 0), r"images\[6\]: sentences\[0\]\.'imgid' is 6, but the image's imgid is 0"),
        (_sentence(1, 2, "raw"), r"images\[1\]: missing key sentences\[2\]\.'raw'"),
        (_sentence(1, 0, "raw", 5), r"images\[1\]: key sentences\[0\]\.'raw' must be str, got int"),
        (_sentence(1, 0, "raw", "   "), r"images\[1\]: sentences\[0\]\.'raw' is empty"),
        (_sentence(3, 4, "sentid", "9"), r"images\[3\]: key sentences\[4\]\.'sentid' must be int, got str"),
        (
            lambda d: d["images"].__setitem__(5, ["not", "a", "record"]),
            r"images\[5\]: expected an object, got list",
        ),
    ],
)
def test_malformed_records_name_the_file_and_record(coco, tmp_path, edit, message):
    path = _rewrite(coco, tmp_path, edit)
    with pytest.raises(DatasetFormatError, match=rf"^{re.escape(str(path))}: {message}"):
        read_karpathy(path, coco.image_root)


def test_repeated_imgid_and_bad_top_level_name_the_file(coco, tmp_path):
    def repeat(d):
        d["images"][6]["imgid"] = 2
        for s in d["images"][6]["sentences"]:
            s["imgid"] = 2

    path = _rewrite(coco, tmp_path, repeat)
    with pytest.raises(DatasetFormatError, match=r"images\[6\]: imgid 2 repeats images\[2\]"):
        read_karpathy(path, coco.image_root)
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(DatasetFormatError, match=rf"^{re.escape(str(path))}: expected an object"):
        read_karpathy(path, coco.image_root)
    path.write_text('{"images": [')
    with pytest.raises(DatasetFormatError, match=rf"^{re.escape(str(path))}: not valid JSON"):
        read_karpathy(path, coco.image_root)


def test_missing_image_raises_naming_it_or_is_a_counted_skip(tmp_path, caplog):
    files = write_karpathy(tmp_path, "coco", COUNTS, seed=3)
    images = _json(files)["images"]
    gone = files.image_root / images[3]["filepath"] / images[3]["filename"]  # a restval image
    gone.unlink()
    with pytest.raises(
        DatasetFormatError, match=rf"^{re.escape(str(gone))}: image file not found \(images\[3\]"
    ):
        read_karpathy(files.json_path, files.image_root)
    with caplog.at_level(logging.WARNING):
        got = read_karpathy(files.json_path, files.image_root, on_missing="skip")
    assert [r.image_id for r in got] == [0, 1, 2, 4]
    assert got.num_captions == 5 + 5 + 6 + 5
    assert [s.path for s in got.skipped] == [str(gone)]
    assert "skipped 1 bad input(s), kept 4 samples" in caplog.text
    assert (
        len(read_karpathy(files.json_path, files.image_root, ["val", "test"])) == 3
    )  # other splits unaffected
    with pytest.raises(ValueError, match="on_error must be 'raise' or 'skip'"):
        read_karpathy(files.json_path, files.image_root, on_missing="ignore")


def test_pair_dataset_serves_every_caption_image_major(coco):
    records = read_karpathy(coco.json_path, coco.image_root).records
    ds = CaptionPairDataset(records, transform=None, name="coco")
    expected = [(r, c, sid) for r in records for c, sid in zip(r.captions, r.sentence_ids, strict=True)]
    assert len(ds) == len(expected) == 26
    for i in (0, 4, 5, 15, 16, 25):
        item = ds[i]
        rec, cap, sid = expected[i]
        assert item["caption"] == cap and item["index"] == i and item["image_id"] == rec.image_id
        assert isinstance(item["image"], Image.Image) and item["image"].mode == "RGB"
        with Image.open(rec.image_path) as img:
            assert list(item["image"].getdata()) == list(img.convert("RGB").getdata())
        assert ds.sample_id(i) == f"coco/{sid}"
    assert ds[-1]["index"] == 25 and ds[-1]["caption"] == expected[-1][1]
    with pytest.raises(IndexError, match="pair index 26 out of range for 26"):
        ds[26]
    ds.transform = lambda img: img.size
    assert ds[3]["image"] == (32, 32)  # the transform is read at access time
