"""ARO COCO-/Flickr30k-Order from BLIP test files: five options per caption, original first, seeded shuffles."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from vlmrobust.data.captions import read_order, write_blip_test
from vlmrobust.data.imagenet.fixtures.images import class_color, image_bytes, write_file
from vlmrobust.data.imagenet.samples import DatasetFormatError
from vlmrobust.data.perturb import LexiconTagger, order_options

TAGGER = LexiconTagger(nouns=["dog", "grass", "cat", "mat", "dogs"], adjectives=["red", "small"])
ITEMS = [
    {"image": "val2014/COCO_val2014_000000000001.jpg", "caption": ["Dogs!", "A Red  dog; on the GRASS."]},
    {"image": "val2014/COCO_val2014_000000000002.jpg", "caption": ["A small cat (sleeping) on a red mat. "]},
]


@pytest.fixture
def blip(tmp_path) -> tuple[Path, Path]:
    for k, item in enumerate(ITEMS):
        write_file(tmp_path / item["image"], image_bytes("JPEG", class_color(k)))
    path = tmp_path / "coco_karpathy_test.json"
    path.write_text(json.dumps(ITEMS))
    return path, tmp_path


def test_one_five_option_record_per_caption_original_first(blip):
    path, root = blip
    ds = read_order(path, root, "coco", tagger=TAGGER)
    info = ds.info
    assert (info.name, info.task, info.benchmark, info.num_options, info.num_samples) == (
        "aro-coco-order", "captions", "order", 5, 3)  # fmt: skip
    assert [ds.sample_id(i) for i in range(3)] == [
        "val2014/COCO_val2014_000000000001.jpg#0",
        "val2014/COCO_val2014_000000000001.jpg#1",
        "val2014/COCO_val2014_000000000002.jpg#0",
    ]
    assert all(r.answer == 0 and len(r.texts) == 5 for r in ds.records)
    # "Dogs!": one noun, the "!" is dropped by pre_caption wherever a shuffle puts it
    assert ds.records[0].texts == ("dogs",) * 5
    assert ds.records[1].texts[0] == "a red dog on the grass"
    assert ds.records[2].texts[0] == "a small cat sleeping on a red mat"
    for r in ds.records:
        assert all(sorted(t.split()) == sorted(r.texts[0].split()) for t in r.texts)  # word orders only
    # option 1 permutes the nouns (dog, grass) among themselves, all else in place
    assert ds.records[1].texts[1] in ("a red dog on the grass", "a red grass on the dog")
    item = ds[2]
    assert item["texts"] == list(ds.records[2].texts) and item["answer"] == item["label"] == 0
    assert item["image"].size == (8, 8) and item["index"] == 2
    assert ds.records[2].image.path == root / "val2014" / "COCO_val2014_000000000002.jpg"


def test_shuffles_are_seeded_by_seed_and_caption_position(blip):
    path, root = blip
    ds = read_order(path, root, "coco", seed=7, tagger=TAGGER)
    positions = [(0, 0), (0, 1), (1, 0)]
    for r, (i, j) in zip(ds.records, positions, strict=True):
        raw = ITEMS[i]["caption"][j]
        assert list(r.texts) == order_options(raw, TAGGER, np.random.default_rng([7, i, j]))
    again = read_order(path, root, "coco", seed=7, tagger=TAGGER)
    assert [r.texts for r in again.records] == [r.texts for r in ds.records]
    seeds = {read_order(path, root, "coco", seed=s, tagger=TAGGER).records[2].texts for s in range(6)}
    assert len(seeds) > 1


def test_a_skipped_image_leaves_the_other_cases_unchanged(blip, caplog):
    path, root = blip
    full = read_order(path, root, "coco", tagger=TAGGER)
    (root / ITEMS[0]["image"]).unlink()
    with pytest.raises(
        DatasetFormatError, match=r"COCO_val2014_000000000001.jpg: image file not found \(item 0"
    ):
        read_order(path, root, "coco", tagger=TAGGER)
    with caplog.at_level(logging.WARNING):
        ds = read_order(path, root, "coco", tagger=TAGGER, on_missing="skip")
    assert [ds.sample_id(i) for i in range(len(ds))] == ["val2014/COCO_val2014_000000000002.jpg#0"]
    assert ds.records[0].texts == full.records[2].texts
    assert ds.info.num_samples == 1 and "skipped 1 bad input(s), kept 1 samples" in caplog.text


def test_flickr30k_order_from_the_synthetic_writer(tmp_path):
    files = write_blip_test(tmp_path, "flickr30k", n_images=2, seed=1, image_size=16)
    ds = read_order(files.json_path, files.image_root, "flickr30k", tagger=LexiconTagger(world=True))
    assert ds.info.name == "aro-flickr30k-order" and len(ds) == 10  # 5 captions per image
    items = json.loads(files.json_path.read_text())
    assert [ds.sample_id(i) for i in range(10)] == [f"{it['image']}#{j}" for it in items for j in range(5)]
    assert ds.records[0].image.path == tmp_path / items[0]["image"]


def test_unknown_dataset_lists_the_valid_ones(blip):
    path, root = blip
    with pytest.raises(ValueError, match=r"unknown Order dataset 'flickr'.*Valid datasets: coco, flickr30k"):
        read_order(path, root, "flickr", tagger=TAGGER)  # type: ignore[arg-type]


def test_malformed_blip_file_names_file_and_item(blip):
    path, root = blip
    path.write_text(json.dumps([ITEMS[0], {"image": "val2014/x.jpg", "caption": "one"}]))
    with pytest.raises(DatasetFormatError, match=r"coco_karpathy_test.json: item 1: key 'caption'"):
        read_order(path, root, "coco", tagger=TAGGER)
