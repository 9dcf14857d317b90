"""ImageNet-C corruptions on the fly: every corruption and size, determinism (threads, processes, DataLoader
workers), the corrupted-set wrapper (world and ImageNet), the WebDataset cache, and the world's family."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from vlmrobust.core.optional import MissingDependencyError
from vlmrobust.data.corruptions import (
    CORRUPTIONS,
    CachedCorruptedDataset,
    CorruptCacheError,
    CorruptedDataset,
    cache_corrupted,
    corrupt,
    library,
)
from vlmrobust.data.corruptions import dataset as corrupted_module
from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import load_image, read_imagenet_val
from vlmrobust.data.imagenet.dataset import ImageNetEvalDataset
from vlmrobust.data.interop import WebDatasetStream
from vlmrobust.data.mcq.dataset import MCQDataset
from vlmrobust.data.world import CLASS_NAMES, LabelledDataset, ProceduralWorld, to_tensor


def _image(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A smooth gradient with a little noise (w, h), so blurs and noises both show."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    arr = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (w + h)], axis=-1)  # [H, W, 3]
    return Image.fromarray(np.clip(arr + rng.normal(0, 8, arr.shape), 0, 255).astype(np.uint8))


def _px(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def _world_set(size: int = 7) -> LabelledDataset:
    return LabelledDataset(ProceduralWorld(0, 32), "id", "eval", size, to_tensor)


WORLD_ID = EvalSetInfo("world/id", CLASS_NAMES, ("a photo of a {}.",), None, 7)


def test_the_fifteen_corruptions_are_the_benchmarks_in_order():
    assert library.imagecorruptions().get_corruption_names("common") == list(CORRUPTIONS)
    assert len(CORRUPTIONS) == 15


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n == "glass_blur" else n for n in CORRUPTIONS]
)
def test_every_corruption_keeps_size_and_type_and_grows_with_severity(name):
    for size in ((32, 32), (224, 224)):
        image = _image(size)
        outs = [corrupt(image, name, s, 0, "img") for s in (1, 5)]
        for out in outs:
            assert out.mode == "RGB" and out.size == size and _px(out).dtype == np.uint8
            assert not np.array_equal(_px(out), _px(image))
        change = [np.abs(_px(o).astype(int) - _px(image)).mean() for o in outs]
        assert not np.array_equal(_px(outs[0]), _px(outs[1])), f"{name} {size}: severity has no effect"
        assert change[1] > change[0], f"{name} {size}: severity 5 changes less than 1 ({change})"


def test_small_and_odd_images_come_back_at_their_size():
    for size in ((8, 8), (20, 27), (33, 47)):
        for name in ("glass_blur", "pixelate", "frost", "zoom_blur"):
            assert corrupt(_image(size), name, 5, 0, "s").size == size
    grey = Image.new("L", (40, 40), 128)
    assert corrupt(grey, "gaussian_noise", 2, 0, "g").mode == "RGB"


def test_deterministic_by_seed_and_sample_whatever_ran_before():
    image = _image((40, 36))
    noisy = [n for n in CORRUPTIONS if n not in ("defocus_blur", "zoom_blur", "brightness", "contrast",
                                                 "pixelate", "jpeg_compression")]  # fmt: skip
    first = {n: _px(corrupt(image, n, 3, 0, "a")) for n in noisy}
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    for n in reversed(noisy):  # other calls, other samples, other seeds in between
        corrupt(image, n, 4, 1, "b")
        np.random.rand(7)
    np.random.seed(123)
    for n in noisy:
        again = _px(corrupt(image, n, 3, 0, "a"))
        assert np.array_equal(again, first[n]), n
        assert not np.array_equal(_px(corrupt(image, n, 3, 1, "a")), first[n]), f"{n}: seed ignored"
        assert not np.array_equal(_px(corrupt(image, n, 3, 0, "c")), first[n]), f"{n}: sample id ignored"
    assert np.array_equal(np.random.get_state()[1], state)  # the global RNG was neither read nor advanced


def test_threads_do_not_share_random_streams():
    image = _image((48, 48))
    jobs = [(n, f"t{k}") for k in range(6) for n in ("gaussian_noise", "glass_blur", "impulse_noise", "snow")]
    expected = [_px(corrupt(image, n, 2, 0, sid)) for n, sid in jobs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda job: _px(corrupt(image, job[0], 2, 0, job[1])), jobs))
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))


_DIGEST = """
import hashlib, sys
import numpy as np
from PIL import Image
from vlmrobust.data.corruptions import corrupt
np.random.seed(99); np.random.rand(5)  # a different global RNG state than the parent's
image = Image.fromarray(np.frombuffer(bytes.fromhex(sys.argv[1]), np.uint8).reshape(40, 36, 3))
for name in ("gaussian_noise", "impulse_noise", "frost", "fog", "elastic_transform"):
    print(hashlib.sha256(corrupt(image, name, 3, 7, "world/id/eval/3").tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_same_output_in_a_fresh_process():
    image = _image((36, 40))
    digests = [
        hashlib.sha256(corrupt(image, n, 3, 7, "world/id/eval/3").tobytes()).hexdigest()
        for n in ("gaussian_noise", "impulse_noise", "frost", "fog", "elastic_transform")
    ]
    out = subprocess.run(
        [sys.executable, "-c", _DIGEST, image.tobytes().hex()], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == digests


def test_same_items_in_two_dataloader_workers():
    ds = CorruptedDataset(_world_set(), "shot_noise", 4, seed=3, info=WORLD_ID)
    direct = torch.stack([ds[i]["image"] for i in range(len(ds))])  # [7, 3, 32, 32]
    loader = DataLoader(ds, batch_size=2, num_workers=2)
    batches = list(loader)
    assert torch.equal(torch.cat([b["image"] for b in batches]), direct)
    assert torch.cat([b["index"] for b in batches]).tolist() == list(range(7))


def test_unknown_corruption_or_severity_is_refused_with_choices():
    image = _image((32, 32))
    with pytest.raises(
        ValueError, match=r"'gausian_noise'.*Did you mean 'gaussian_noise'.*Valid corruptions"
    ):
        corrupt(image, "gausian_noise", 3, 0, "x")
    for bad in (0, 6, True, "3"):
        with pytest.raises(ValueError, match=r"severity must be one of 1..5"):
            corrupt(image, "fog", bad, 0, "x")
    with pytest.raises(ValueError, match="'fgo'"):
        CorruptedDataset(_world_set(), "fgo", 3, info=WORLD_ID)


def test_a_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "imagecorruptions", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'vlmrobust-data\[corruptions\]'"):
        library._load()


def test_world_dataset_corrupted_before_its_transform():
    base = _world_set()
    ds = CorruptedDataset(base, "fog", 2, seed=1, info=WORLD_ID)
    assert ds.info == EvalSetInfo("world/c/fog/2", CLASS_NAMES, ("a photo of a {}.",), "world/id", 7)
    assert base.transform is to_tensor and ds.transform is to_tensor  # the base is left as it was
    plain = base[4]
    item = ds[4]
    expected = corrupt(base.world.sample("id", "eval", 4).image, "fog", 2, 1, "world/id/eval/4")
    assert torch.equal(item["image"], to_tensor(expected))
    assert (item["label"], item["index"]) == (plain["label"], 4) and ds.sample_id(4) == base.sample_id(4)
    ds.transform = None  # VLMs take the corrupted PIL image
    assert np.array_equal(_px(ds[4]["image"]), _px(expected))
    assert torch.is_tensor(base[4]["image"])
    with pytest.raises(ValueError, match="pass info="):
        CorruptedDataset(base, "fog", 2)
    with pytest.raises(TypeError, match="corrupt the labelled dataset underneath"):
        CorruptedDataset(MCQDataset(base, []), "fog", 2, info=WORLD_ID)
    assert base.transform is to_tensor


def test_memory_cache_corrupts_each_image_once(monkeypatch):
    ds = CorruptedDataset(_world_set(), "frost", 3, info=WORLD_ID, cache=True)
    first = [ds[i] for i in range(3)]
    monkeypatch.setattr(corrupted_module, "corrupt", lambda *a: pytest.fail("corrupted again"))
    again = [ds[i] for i in range(3)]
    assert all(
        torch.equal(a["image"], b["image"]) and a["label"] == b["label"]
        for a, b in zip(first, again, strict=True)
    )
    with pytest.raises(pytest.fail.Exception):
        ds[3]


def test_imagenet_dataset_corrupted_and_named_after_it(tmp_path):
    buf = io.BytesIO()
    _image((48, 40)).save(buf, format="JPEG", quality=95)
    val = read_imagenet_val(fx.write_val_folders(tmp_path / "val", {1: 65, 2: 970}, content=buf.getvalue()))
    base = ImageNetEvalDataset(val, transform=to_tensor)
    ds = CorruptedDataset(base, "motion_blur", 5, seed=0)
    assert ds.info.name == "imagenet-val/c/motion_blur/5" and ds.info.id_set == "imagenet-val"
    assert ds.info.class_names == base.info.class_names and ds.info.templates == base.info.templates
    expected = corrupt(load_image(val.samples[1].path), "motion_blur", 5, 0, base.sample_id(1))
    assert torch.equal(ds[1]["image"], to_tensor(expected)) and ds[1]["label"] == 970
    shifted = CorruptedDataset(
        base, "fog", 1, info=EvalSetInfo("imagenet-r", ("a",), (), "imagenet-val-r", 2)
    )
    assert (shifted.info.name, shifted.info.id_set) == ("imagenet-r/c/fog/1", "imagenet-val-r")


class _MultiLabel(torch.utils.data.Dataset):
    """A multi-label eval set of PIL images (clean-label style items)."""

    info = EvalSetInfo("toy", ("a", "b", "c"), ("{}",), None, 5, multi_label=True)

    def __init__(self) -> None:
        self.transform = None

    def __len__(self) -> int:
        return 5

    def sample_id(self, i: int) -> str:
        return f"toy/{i}"

    def __getitem__(self, i: int) -> dict:
        image = _image((34 + i, 33), seed=i)
        labels = torch.tensor([True, i % 2 == 1, i == 4])
        return {"image": image if self.transform is None else self.transform(image), "label": 0, "index": i,
                "labels": labels}  # fmt: skip


def _same_items(a, b) -> None:
    assert len(a) == len(b)
    for i in range(len(a)):
        x, y = a[i], b[i]
        assert x.keys() == y.keys() and a.sample_id(i) == b.sample_id(i)
        for k in x:
            same = torch.equal(x[k], y[k]) if torch.is_tensor(x[k]) else x[k] == y[k]
            assert same, (i, k)


def test_cache_round_trip_is_bitwise_and_a_rerun_generates_nothing(tmp_path, monkeypatch):
    ds = CorruptedDataset(_world_set(), "snow", 3, seed=2, info=WORLD_ID)
    cached = cache_corrupted(ds, tmp_path, shard_size=3, source={"world_seed": 0})
    assert isinstance(cached, CachedCorruptedDataset) and cached.info == ds.info
    assert len(cached.shards) == 3 and cached.transform is to_tensor
    _same_items(cached, ds)
    ds.transform = cached.transform = None
    _same_items(cached, ds)  # PIL images, pixel for pixel
    with tarfile.open(cached.shards[0]) as tar:
        assert tar.getnames() == [f"{i:08d}.{e}" for i in range(3) for e in ("png", "json")]
        assert json.loads(tar.extractfile("00000001.json").read()) == {"sample_id": "world/id/eval/1",
                                                                       "label": ds[1]["label"]}  # fmt: skip
    streamed = list(WebDatasetStream(cached.shards))  # the shards are plain WebDataset too
    assert [s["sample_id"] for s in streamed] == [ds.sample_id(i) for i in range(7)]
    assert all(np.array_equal(_px(s["image"]), _px(ds[i]["image"])) for i, s in enumerate(streamed))

    mtimes = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    def fail(*args, **kwargs):
        raise AssertionError("regenerated a cached image")

    monkeypatch.setattr(corrupted_module, "corrupt", fail)
    again = cache_corrupted(ds, tmp_path, shard_size=3, source={"world_seed": 0})
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == mtimes
    assert again.meta == cached.meta
    with pytest.raises(AssertionError, match="regenerated"):  # another source is another cache
        cache_corrupted(ds, tmp_path, shard_size=3, source={"world_seed": 1})


def test_cache_keeps_multi_labels_and_works_with_workers(tmp_path):
    ds = CorruptedDataset(_MultiLabel(), "pixelate", 4)
    cached = cache_corrupted(ds, tmp_path, shard_size=2, num_workers=2)
    assert cached.info.name == "toy/c/pixelate/4" and cached.info.multi_label
    _same_items(cached, ds)
    batches = list(DataLoader(cached, batch_size=2, num_workers=2, collate_fn=lambda b: b))
    assert [it["labels"].tolist() for b in batches for it in b] == [
        [True, i % 2 == 1, i == 4] for i in range(5)
    ]


def test_a_killed_cache_job_leaves_whole_shards_and_resumes(tmp_path, monkeypatch):
    ds = CorruptedDataset(_world_set(), "gaussian_noise", 1, info=WORLD_ID)
    real, calls = corrupted_module.corrupt, []

    def dies_at_the_fifth(*args, **kwargs):
        calls.append(args[-1])
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(corrupted_module, "corrupt", dies_at_the_fifth)
    with pytest.raises(KeyboardInterrupt):
        cache_corrupted(ds, tmp_path, shard_size=3)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 1 and left[0].endswith("-000000.tar")  # no partial shard, no temp file, no meta
    calls.clear()
    cached = cache_corrupted(ds, tmp_path, shard_size=3)
    assert calls == [f"world/id/eval/{i}" for i in range(3, 7)]  # the finished shard was kept
    monkeypatch.setattr(corrupted_module, "corrupt", real)
    _same_items(cached, ds)


def test_a_damaged_shard_is_an_error_naming_it(tmp_path):
    ds = CorruptedDataset(_world_set(), "contrast", 2, info=WORLD_ID)
    cached = cache_corrupted(ds, tmp_path, shard_size=4)
    shard = cached.shards[1]
    shard.write_bytes(shard.read_bytes()[:1500])  # cut inside a member
    with pytest.raises(CorruptCacheError, match=shard.name):
        CachedCorruptedDataset(cached.meta)
    shard.unlink()
    with pytest.raises(CorruptCacheError, match="missing"):
        CachedCorruptedDataset(cached.meta)


def _eval_dm(**kw) -> WorldDataModule:
    args = {"eval_size": 6, "eval_batch_size": 4, "shifts": ["sketch"], "train_size": 4}
    return WorldDataModule(**{**args, **kw})


def test_world_family_of_corruption_shifts(tmp_path):
    dm = _eval_dm(corruptions=["fog", "impulse_noise"], severities=(1, 3), corruption_seed=5)
    names = ["world/id", "world/sketch"] + [
        f"world/c/{c}/{s}" for c in ("fog", "impulse_noise") for s in (1, 3)
    ]
    assert [s.name for s in dm.eval_sets] == names
    assert [s.id_set for s in dm.eval_sets] == [None] + ["world/id"] * 5
    assert all(s.num_samples == 6 and s.class_names == CLASS_NAMES for s in dm.eval_sets)
    dm.setup()
    loaders = dm.val_dataloader()
    assert len(loaders) == 6
    first = [next(iter(loader)) for loader in loaders]
    assert all(b["image"].shape == (4, 3, 32, 32) for b in first)
    assert all(torch.equal(b["label"], first[0]["label"]) for b in first[2:])  # the ID images, corrupted
    assert not any(torch.equal(b["image"], first[0]["image"]) for b in first[1:])
    plain = _eval_dm()
    plain.setup()
    assert torch.equal(next(iter(plain.val_dataloader()[0]))["image"], first[0]["image"])  # ID unchanged
    fog = corrupt(dm.world.sample("id", "eval", 0).image, "fog", 1, 5, "world/id/eval/0")
    assert torch.equal(first[2]["image"][0], to_tensor(fog))
    dm.set_image_transforms(to_tensor, None)
    assert isinstance(dm.eval_datasets[4][0]["image"], Image.Image)

    cached = _eval_dm(corruptions=["fog", "impulse_noise"], severities=(1, 3), corruption_seed=5,
                      corruption_cache_dir=str(tmp_path))  # fmt: skip
    cached.setup()
    assert all(isinstance(d, CachedCorruptedDataset) for d in cached.eval_datasets[2:])
    for loader, batch in zip(cached.val_dataloader(), first, strict=True):
        assert torch.equal(next(iter(loader))["image"], batch["image"])


def test_world_family_in_mcq_mode_asks_the_id_questions():
    dm = _eval_dm(corruptions=["pixelate"], mode="mcq")
    assert [(s.name, s.task, s.num_options) for s in dm.eval_sets][2] == ("world/c/pixelate/3", "mcq", 5)
    dm.setup()
    id_set, corrupted = dm.eval_datasets[0], dm.eval_datasets[2]
    assert corrupted.questions == id_set.questions
    a, b = id_set[3], corrupted[3]
    assert torch.equal(a["options"], b["options"]) and a["answer"] == b["answer"]
    assert not torch.equal(a["image"], b["image"])


def test_world_corruption_arguments_are_checked():
    with pytest.raises(ValueError, match="Did you mean 'fog'"):
        WorldDataModule(corruptions=["fgo"])
    with pytest.raises(ValueError, match="severity"):
        WorldDataModule(corruptions=["fog"], severities=(0,))
    with pytest.raises(ValueError, match="distinct"):
        WorldDataModule(corruptions=["fog", "fog"])
    assert [s.name for s in WorldDataModule(shifts=[]).eval_sets] == ["world/id"]  # default: no corruptions
