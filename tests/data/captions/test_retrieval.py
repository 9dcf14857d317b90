"""Retrieval sets from Karpathy files, and BLIP test files: round trips, caption indexing, bad input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from vlmrobust.data.captions import read_blip_test, read_retrieval_karpathy, write_blip_test, write_karpathy
from vlmrobust.data.imagenet.fixtures.images import class_color, image_bytes, write_file
from vlmrobust.data.imagenet.samples import DatasetFormatError


def _sentence(raw: str, imgid: int, sentid: int) -> dict:
    return {"tokens": raw.lower().split(), "raw": raw, "imgid": imgid, "sentid": sentid}


def _image(imgid: int, split: str, name: str, raws: list[str]) -> dict:
    ids = [10 * imgid + j for j in range(len(raws))]
    return {"filepath": "val2014", "sentids": ids, "filename": name, "imgid": imgid, "split": split,
            "sentences": [_sentence(r, imgid, s) for r, s in zip(raws, ids, strict=True)], "cocoid": imgid + 1}  # fmt: skip


@pytest.fixture
def karpathy(tmp_path) -> tuple[Path, Path]:
    images = [
        _image(0, "test", "COCO_val2014_000000000001.jpg", ["A cat on a mat. ", "A sleeping cat."]),
        _image(1, "val", "COCO_val2014_000000000002.jpg", ["A bus."]),
        _image(2, "test", "COCO_val2014_000000000003.jpg", ["Two dogs.", " A dog and a dog ", "Dogs!"]),
    ]
    for im in images:
        write_file(tmp_path / "val2014" / im["filename"], image_bytes("JPEG", class_color(im["imgid"])))
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps({"images": images, "dataset": "coco"}))
    return path, tmp_path


def test_retrieval_from_a_karpathy_test_split(karpathy):
    path, root = karpathy
    ds = read_retrieval_karpathy(path, root)
    assert (ds.info.name, ds.info.task, ds.info.benchmark, ds.info.num_samples) == (
        "coco-retrieval", "retrieval", "retrieval", 2)  # fmt: skip
    assert [ds.sample_id(i) for i in range(2)] == [
        "COCO_val2014_000000000001.jpg",
        "COCO_val2014_000000000003.jpg",
    ]
    assert ds.captions == ["A cat on a mat.", "A sleeping cat.", "Two dogs.", "A dog and a dog", "Dogs!"]
    assert ds.caption_image == [0, 0, 1, 1, 1]
    item = ds[1]
    assert item["captions"] == ["Two dogs.", "A dog and a dog", "Dogs!"]
    assert item["caption_ids"] == [2, 3, 4] and item["label"] == item["index"] == 1
    assert item["image"].size == (8, 8)
    assert ds.records[0].image.path == root / "val2014" / "COCO_val2014_000000000001.jpg"


def test_retrieval_split_and_name(karpathy):
    path, root = karpathy
    val = read_retrieval_karpathy(path, root, "val")
    assert val.info.name == "coco-retrieval-val" and val.captions == ["A bus."]
    assert read_retrieval_karpathy(path, root, name="my-set").info.name == "my-set"
    data = json.loads(path.read_text())
    del data["dataset"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"dataset_coco.json: no 'dataset' key"):
        read_retrieval_karpathy(path, root)


def test_retrieval_missing_image_raises_or_is_a_counted_skip(karpathy, caplog):
    path, root = karpathy
    (root / "val2014" / "COCO_val2014_000000000001.jpg").unlink()
    with pytest.raises(
        DatasetFormatError, match=r"COCO_val2014_000000000001.jpg: image file not found \(images\[0\]"
    ):
        read_retrieval_karpathy(path, root)
    with caplog.at_level(logging.WARNING):
        ds = read_retrieval_karpathy(path, root, on_missing="skip")
    assert len(ds) == 1 and ds.caption_image == [0, 0, 0] and ds[0]["caption_ids"] == [0, 1, 2]
    assert "skipped 1 bad input(s), kept 1 samples" in caplog.text


def test_retrieval_flickr30k_from_the_synthetic_writer(tmp_path):
    files = write_karpathy(tmp_path, "flickr30k", {"train": 1, "test": 3}, seed=5, image_size=16)
    ds = read_retrieval_karpathy(files.json_path, files.image_root)
    assert ds.info.name == "flickr30k-retrieval" and len(ds) == 3
    assert [len(r.captions) for r in ds.records] == [5, 6, 5]  # imgid 1, 2, 3: every third image has 6
    assert ds.caption_image == [0] * 5 + [1] * 6 + [2] * 5
    assert ds[2]["caption_ids"] == list(range(11, 16))


@pytest.mark.parametrize("dataset", ["coco", "flickr30k"])
def test_blip_writer_round_trip(tmp_path, dataset):
    files = write_blip_test(tmp_path, dataset, n_images=3, seed=2, image_size=16)
    assert (
        files.json_path.name
        == {"coco": "coco_karpathy_test.json", "flickr30k": "flickr30k_test.json"}[dataset]
    )
    items = json.loads(files.json_path.read_text())
    assert [list(item) for item in items] == [["image", "caption"]] * 3
    karpathy = json.loads((tmp_path / f"dataset_{dataset}.json").read_text())["images"]
    folder = {"coco": "val2014", "flickr30k": "flickr30k-images"}[dataset]
    assert [item["image"] for item in items] == [f"{folder}/{im['filename']}" for im in karpathy]
    blip = read_blip_test(files.json_path, files.image_root)
    assert len(blip) == 3 and blip.indices == (0, 1, 2) and blip.skipped == ()
    assert [r.sample_id for r in blip] == [item["image"] for item in items]
    assert [r.captions for r in blip] == [tuple(s["raw"] for s in im["sentences"]) for im in karpathy]
    assert [r.image.path for r in blip] == [tmp_path / item["image"] for item in items]
    assert blip[0].image.load().size == (16, 16)


def _blip(tmp_path: Path, items) -> Path:
    path = tmp_path / "coco_karpathy_test.json"
    path.write_text(json.dumps(items))
    return path


def test_blip_reader_by_hand(tmp_path):
    for name in ("a.jpg", "b.jpg"):
        write_file(tmp_path / "val2014" / name, image_bytes("JPEG", class_color(0)))
    path = _blip(tmp_path, [{"image": "val2014/a.jpg", "caption": ["A cat. ", "Cats"]},
                            {"image": "val2014/b.jpg", "caption": ["A dog"]}])  # fmt: skip
    blip = read_blip_test(path, tmp_path)
    assert [(r.sample_id, r.captions) for r in blip] == [("val2014/a.jpg", ("A cat. ", "Cats")),
                                                         ("val2014/b.jpg", ("A dog",))]  # fmt: skip
    (tmp_path / "val2014" / "a.jpg").unlink()
    with pytest.raises(
        DatasetFormatError, match=r"val2014/a.jpg: image file not found \(item 0 of .*coco_karpathy"
    ):
        read_blip_test(path, tmp_path)
    blip = read_blip_test(path, tmp_path, on_missing="skip")
    assert [r.sample_id for r in blip] == ["val2014/b.jpg"] and blip.indices == (1,)
    assert [s.path for s in blip.skipped] == [str(tmp_path / "val2014" / "a.jpg")]


GOOD = {"image": "val2014/a.jpg", "caption": ["A cat."]}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (["val2014/b.jpg"], r"item 1: expected an object, got list"),
        ({"image": "val2014/b.jpg"}, r"item 1: missing key 'caption'"),
        ({"caption": ["x"]}, r"item 1: missing key 'image'"),
        ({"image": 3, "caption": ["x"]}, r"item 1: key 'image' must be a non-empty str"),
        ({"image": "val2014/b.jpg", "caption": "A dog."}, r"item 1: key 'caption' must be a non-empty list"),
        ({"image": "val2014/b.jpg", "caption": []}, r"item 1: key 'caption' must be a non-empty list"),
        ({"image": "val2014/b.jpg", "caption": ["ok", 5]}, r"item 1: caption\[1\] must be a non-empty str"),
        (
            {"image": "val2014/b.jpg", "caption": ["ok", "  "]},
            r"item 1: caption\[1\] must be a non-empty str",
        ),
        ({"image": "val2014/a.jpg", "caption": ["again"]}, r"item 1: image 'val2014/a.jpg' repeats item 0"),
    ],
)
def test_blip_malformed_items_name_file_and_index(tmp_path, bad, message):
    path = _blip(tmp_path, [GOOD, bad])
    with pytest.raises(DatasetFormatError, match=r"coco_karpathy_test.json: " + message):
        read_blip_test(path, tmp_path)


def test_blip_malformed_file(tmp_path):
    path = _blip(tmp_path, {"images": []})
    with pytest.raises(DatasetFormatError, match=r"coco_karpathy_test.json: expected a JSON array"):
        read_blip_test(path, tmp_path)
    path.write_text("[{")
    with pytest.raises(DatasetFormatError, match=r"coco_karpathy_test.json: not valid JSON"):
        read_blip_test(path, tmp_path)


def test_blip_writer_rejects_unknown_dataset(tmp_path):
    with pytest.raises(ValueError, match="valid: coco, flickr30k"):
        write_blip_test(tmp_path, "flickr8k")  # type: ignore[arg-type]
