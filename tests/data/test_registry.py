"""The eval-set registry: one table, did-you-mean lookups, and `vlmrobust list evalsets`."""

from __future__ import annotations

import pytest

from vlmrobust.core.cli import main as vlmrobust
from vlmrobust.data.benchmarks import BENCHMARK_SETS
from vlmrobust.data.imagenet import read_imagenet_r, read_imagenet_val, read_objectnet
from vlmrobust.data.registry import EVAL_SETS, get_entry, get_reader, list_evalsets
from vlmrobust.data.world import SHIFTS, LabelledDataset


def test_table_covers_imagenet_and_world_sets():
    names = [e.name for e in list_evalsets()]
    assert names[:10] == [
        "imagenet-val",
        "imagenet-v2",
        "imagenet-sketch",
        "imagenet-r",
        "imagenet-a",
        "objectnet",
        "imagenet-d-background",
        "imagenet-d-texture",
        "imagenet-d-material",
        "stylized-imagenet",
    ]
    world = ["world/id", *(f"world/{s}" for s in SHIFTS)]
    assert names[10 : 10 + len(world)] == world
    assert names[10 + len(world) :] == list(BENCHMARK_SETS)
    assert {e.family for e in list_evalsets("benchmark")} == {"benchmark"}
    assert get_entry("whatsup-a").datamodule == "vlmrobust.data.datamodules.BenchmarksDataModule"
    assert [e.num_classes for e in list_evalsets("imagenet")] == [
        1000,
        1000,
        1000,
        200,
        200,
        113,
        113,
        113,
        113,
        1000,
    ]
    assert {e.num_classes for e in list_evalsets("world")} == {18}
    assert get_entry("objectnet").id_set == "imagenet-val-on-objectnet-classes"
    assert get_entry("imagenet-v2").id_set == "imagenet-val" and get_entry("imagenet-val").id_set is None
    assert get_entry("world/sketch").id_set == "world/id" and get_entry("world/id").id_set is None
    assert get_entry("world/pose").datamodule == "vlmrobust.data.datamodules.WorldDataModule"
    assert get_entry("imagenet-r").datamodule == "vlmrobust.data.datamodules.ImageNetDataModule"
    assert (get_reader("imagenet-r"), get_reader("objectnet"), get_reader("imagenet-val")) == (
        read_imagenet_r,
        read_objectnet,
        read_imagenet_val,
    )
    world = get_reader("world/clutter")(seed=3, size=4, image_size=40)
    assert isinstance(world, LabelledDataset) and world.sample_id(1) == "world/clutter/eval/1"
    assert world[0]["image"].shape == (3, 40, 40) and len(EVAL_SETS) == 10 + 2 + 1 + len(SHIFTS) + len(
        BENCHMARK_SETS
    )


def test_unknown_names_suggest_and_list_every_name():
    with pytest.raises(
        KeyError,
        match=r"unknown eval set 'imagenet-rr'\. Did you mean 'imagenet-r'.*objectnet, .*whatsup-world, world/clutter",
    ):
        get_reader("imagenet-rr")
    with pytest.raises(KeyError, match="Did you mean 'world/sketch'"):
        get_reader("world/skecth")


def test_vlmrobust_list_evalsets(capsys):
    assert vlmrobust(["list", "evalsets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "classes", "paired", "ID", "set", "datamodule", "description"]
    rows = {line.split()[0]: line.split() for line in lines[1:] if not line.startswith(" ")}
    assert list(rows) == [e.name for e in list_evalsets(patterns=True)]
    assert rows["objectnet"][1:4] == ["113", "imagenet-val-on-objectnet-classes", "ImageNetDataModule"]
    assert rows["world/sketch"][1:4] == ["18", "world/id", "WorldDataModule"]
    rules = [line.strip() for line in lines if line.startswith(" ") and "ID: " in line]
    assert rules == [f"ID: val images whose official label is one of its {n} classes; " + how for n, how in (
        (200, "logits restricted to them"), (200, "logits restricted to them"),
        (113, "argmax over the 125 mapped IN-1k columns"), *[(113, "argmax over the 125 mapped IN-1k columns")] * 3)]  # fmt: skip
    assert vlmrobust(["list", "evalsets", "--family", "world"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]] == [
        "world/id",
        *(f"world/{s}" for s in SHIFTS),
    ]


def test_vlmrobust_list_unknown_listing(capsys):
    assert vlmrobust(["list", "evalset"]) == 2
    assert (
        "cannot list 'evalset'. Did you mean 'evalsets'? Valid listings: evalsets, models, runs."
        in capsys.readouterr().err
    )
