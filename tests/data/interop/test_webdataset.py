"""WebDataset export and streaming on fixture trees: round trip of labels, bytes, border crop, MCQ rows."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from torch.utils.data import DataLoader

from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import load_image, metadata, read_imagenet_r, read_imagenet_val, read_objectnet
from vlmrobust.data.interop import WebDatasetStream, export_webdataset
from vlmrobust.data.interop.tarstream import iter_samples
from vlmrobust.data.mcq import build_mcq


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    labels = {n: (n * 37) % 1000 for n in range(1, 8)}
    return read_imagenet_val(fx.write_val_folders(tmp_path_factory.mktemp("val"), labels))


def test_round_trip_in_shards(val, tmp_path):
    shards = export_webdataset(val, tmp_path, shard_size=3)
    assert [s.name for s in shards] == [f"imagenet-val-{i:06d}.tar" for i in range(3)]
    with tarfile.open(shards[0]) as tar:
        assert tar.getnames() == ["00000000.jpg", "00000000.json", "00000001.jpg", "00000001.json",
                                  "00000002.jpg", "00000002.json"]  # fmt: skip
        with open(val[1].path, "rb") as f:
            assert tar.extractfile("00000001.jpg").read() == f.read()  # bytes kept as is
    items = list(WebDatasetStream(shards))
    assert [it["sample_id"] for it in items] == [s.sample_id for s in val]
    assert [it["label"] for it in items] == [(n * 37) % 1000 for n in range(1, 8)]
    assert [it["index"] for it in items] == list(range(7))
    for it, s in zip(items, val, strict=True):
        assert np.array_equal(np.asarray(it["image"]), np.asarray(load_image(s.path)))
    meta = json.loads((tmp_path / "imagenet-val.meta.json").read_text())
    assert meta["num_samples"] == 7 and meta["class_names"] == list(metadata.clip_class_names())
    assert not list(tmp_path.glob(".*.tmp"))


def test_objectnet_border_crop_and_loader_workers(tmp_path):
    on = read_objectnet(fx.write_objectnet(tmp_path / "on", {"chair": 2, "skirt": 2}))
    shards = export_webdataset(on, tmp_path / "wds", shard_size=2)
    items = list(WebDatasetStream(shards))
    assert [it["image"].size for it in items] == [(8, 6)] * 4  # 12x10 minus 2 px per side
    assert [it["in1k_labels"] for it in items] == [list(s.in1k_labels) for s in on]
    # two workers split the two shards; every sample arrives once
    stream = WebDatasetStream(shards, transform=lambda im: np.asarray(im).mean())
    got = [i for batch in DataLoader(stream, batch_size=None, num_workers=2) for i in [batch["index"]]]
    assert sorted(got) == [0, 1, 2, 3]


def test_mcq_export(tmp_path):
    r_idx = metadata.imagenet_r_indices()
    r = read_imagenet_r(fx.write_imagenet_r(tmp_path / "r", {r_idx[0]: 2, r_idx[3]: 1}))
    bench = build_mcq(r, "hierarchy", num_questions=None, seed=1)
    items = list(WebDatasetStream(export_webdataset(r, tmp_path / "wds", questions=bench.questions)))
    assert [it["question_id"] for it in items] == [q.question_id for q in bench.questions]
    assert [it["options"] for it in items] == [list(q.options) for q in bench.questions]
    assert [it["options"][it["answer"]] for it in items] == [it["label"] for it in items] == [0, 0, 3]


def test_bad_shard_member(tmp_path):
    shard = tmp_path / "bad-000000.tar"
    with tarfile.open(shard, "w") as tar:
        info = tarfile.TarInfo("00000000.jpg")
        data = b"not a jpeg"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        meta = json.dumps({"sample_id": "x", "label": 0}).encode()
        info = tarfile.TarInfo("00000000.json")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    with pytest.raises(OSError, match=r"bad-000000\.tar:00000000\.jpg: cannot decode"):
        list(WebDatasetStream([shard]))


def test_fast_reader_matches_tarfile_and_webdataset_library(val, tmp_path):
    shards = export_webdataset(val, tmp_path / "wds", shard_size=4)
    fast = list(WebDatasetStream(shards))
    via_library = list(WebDatasetStream([f"pipe:cat {s}" for s in shards]))  # webdataset's own reader
    for a, b in zip(fast, via_library, strict=True):
        assert a["sample_id"] == b["sample_id"] and np.array_equal(
            np.asarray(a["image"]), np.asarray(b["image"])
        )
    # long member names: ustar's prefix field (fast path) and a pax header (tarfile fallback)
    long_dir = "d" * 120
    for fmt in (tarfile.USTAR_FORMAT, tarfile.PAX_FORMAT):
        shard = tmp_path / f"long-{fmt}.tar"
        with tarfile.open(shard, "w", format=fmt) as tar:
            for name, data in ((f"{long_dir}/00000000.jpg", b"x"), (f"{long_dir}/00000000.json", b"{}")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        assert list(iter_samples(shard)) == [("00000000", {"jpg": b"x", "json": b"{}"})]
    assert [k for k, _ in iter_samples(shards[0])] == ["00000000", "00000001", "00000002", "00000003"]
