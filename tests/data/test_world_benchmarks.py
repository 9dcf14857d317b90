"""The world as What'sUp / ARO files: layout, determinism, forced scenes, and the official readers' round trip."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from vlmrobust.data.aro import read_vg_attribution, read_vg_relation
from vlmrobust.data.whatsup import read_whatsup
from vlmrobust.data.world import RELATIONS, ProceduralWorld, Scene, SceneObject, generate_scene
from vlmrobust.data.world.benchmarks import write_world_aro, write_world_whatsup

NAME = re.compile(r"([a-z]+)-([a-z]+)_(left_of|right_of|above|below)_([a-z]+)-([a-z]+)\.jpeg")
TOKEN = {"left of": "left_of", "right of": "right_of", "above": "above", "below": "below"}


@pytest.fixture(scope="module")
def world_whatsup(tmp_path_factory):
    root = tmp_path_factory.mktemp("world-whatsup")
    return root, write_world_whatsup(root, seed=3, pairs=3, image_size=32)


def test_whatsup_world_layout(world_whatsup):
    root, json_path = world_whatsup
    assert json_path == root / "controlled_world_dataset.json"
    records = json.loads(json_path.read_text())
    assert len(records) == 12
    for p in range(3):
        names = [r["image_path"].removeprefix("data/controlled_world/") for r in records[4 * p : 4 * p + 4]]
        assert all(r["image_path"].startswith("data/controlled_world/") for r in records)
        parts = [NAME.fullmatch(n).groups() for n in names]
        assert [g[2] for g in parts] == ["left_of", "right_of", "above", "below"]
        assert len({(g[0], g[1], g[3], g[4]) for g in parts}) == 1  # the same two objects in all four
        c1, s1, _, c2, s2 = parts[0]
        assert s1 != s2 and c1 != c2
        for g, rec, relation in zip(parts, records[4 * p : 4 * p + 4], RELATIONS, strict=True):
            scene = Scene(None, SceneObject(s1, c1), SceneObject(s2, c2), relation, ((0, 0), (0, 0)))
            assert (
                rec["caption_options"] == scene.relation_options
            )  # gold, then the others in RELATIONS order
            assert (root / "controlled_world" / f"{c1}-{s1}_{g[2]}_{c2}-{s2}.jpeg").is_file()
    assert len({r["image_path"] for r in records}) == 12


def test_whatsup_world_round_trip(world_whatsup):
    root, json_path = world_whatsup
    ds = read_whatsup(json_path, root / "controlled_world", "world")
    assert (ds.info.name, ds.info.benchmark, ds.info.num_options, len(ds)) == (
        "whatsup-world",
        "whatsup",
        4,
        12,
    )
    first = NAME.fullmatch(ds.sample_id(0)).groups()
    group = f"{first[0]}-{first[1]}|{first[3]}-{first[4]}"
    # options per relation: left [left, right, above, below]; right [right, left, above, below];
    # above [above, left, right, below]; below [below, left, right, above]
    assert [dict(ds.records[i].meta) for i in range(4)] == [
        {"group": group, "relation": "left", "opposite": 1},
        {"group": group, "relation": "right", "opposite": 1},
        {"group": group, "relation": "above", "opposite": 3},
        {"group": group, "relation": "below", "opposite": 3},
    ]
    art = {c: "an" if c[0] in "aeiou" else "a" for c in (first[0], first[3])}
    assert (
        ds.records[2].texts[0]
        == f"{art[first[0]]} {first[0]} {first[1]} above {art[first[3]]} {first[3]} {first[4]}"
    )
    item = ds[5]
    assert item["answer"] == 0 and item["image"].size == (32, 32)
    with Image.open(root / "controlled_world" / ds.sample_id(5)) as img:
        assert np.array_equal(np.asarray(item["image"]), np.asarray(img.convert("RGB")))


def test_whatsup_world_is_deterministic_by_seed(tmp_path):
    a = write_world_whatsup(tmp_path / "a", seed=1, pairs=2, image_size=32)
    b = write_world_whatsup(tmp_path / "b", seed=1, pairs=2, image_size=32)
    c = write_world_whatsup(tmp_path / "c", seed=2, pairs=2, image_size=32)
    assert a.read_text() == b.read_text() != c.read_text()
    for rec in json.loads(a.read_text()):
        name = rec["image_path"].rsplit("/", 1)[1]
        assert (tmp_path / "a/controlled_world" / name).read_bytes() == (
            tmp_path / "b/controlled_world" / name
        ).read_bytes()


def test_generate_scene_with_given_objects_and_relation():
    red, blue = SceneObject("star", "red"), SceneObject("hexagon", "blue")
    for relation in RELATIONS:
        sc = generate_scene(np.random.default_rng(7), 32, first=red, second=blue, relation=relation)
        assert (sc.first, sc.second, sc.relation) == (red, blue, relation)
        (xa, ya), (xb, yb) = sc.centres
        dx, dy = xa - xb, ya - yb
        got = ("left of" if dx < 0 else "right of") if abs(dx) > abs(dy) else ("above" if dy < 0 else "below")
        assert got == relation
    drawn = generate_scene(np.random.default_rng(7), 32)
    forced = generate_scene(np.random.default_rng(7), 32, relation=drawn.relation)
    assert np.array_equal(np.asarray(drawn.image), np.asarray(forced.image))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"first": SceneObject("star", "red")}, "give first and second together"),
        (
            {"first": SceneObject("star", "red"), "second": SceneObject("star", "blue")},
            "differ in shape and in colour",
        ),
        (
            {"first": SceneObject("star", "red"), "second": SceneObject("heart", "red")},
            "differ in shape and in colour",
        ),
        (
            {"first": SceneObject("stars", "red"), "second": SceneObject("heart", "blue")},
            "unknown scene shape 'stars'",
        ),
        (
            {"first": SceneObject("star", "teal"), "second": SceneObject("heart", "blue")},
            "unknown scene colour 'teal'",
        ),
        ({"relation": "beside"}, "unknown scene relation 'beside'"),
    ],
)
def test_generate_scene_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_scene(np.random.default_rng(0), 32, **kwargs)


def test_world_aro_round_trip(tmp_path):
    files = write_world_aro(tmp_path, seed=4, n=3, image_size=32)
    assert files.relation == tmp_path / "visual_genome_relation.json"
    world = ProceduralWorld(4, 32)
    rel = read_vg_relation(files.relation, tmp_path)
    att = read_vg_attribution(files.attribution, tmp_path)
    assert (rel.info.name, len(rel), att.info.name, len(att)) == (
        "aro-vg-relation",
        3,
        "aro-vg-attribution",
        3,
    )
    phrase = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}
    for i in range(3):
        scene = world.scene("eval", i)
        a, b = scene.first, scene.second
        assert rel.records[i].texts == (scene.swapped_objects, scene.relation_caption())
        assert rel.records[i].texts[1].endswith(f"{phrase[scene.relation]} {b.phrase()}")
        assert rel.records[i].meta == {"relation": phrase[scene.relation]}
        assert att.records[i].texts == (
            f"{a.phrase(b.colour)} and {b.phrase(a.colour)}",
            f"{a.phrase()} and {b.phrase()}",
        )
        assert att.records[i].meta == {"attributes": f"{a.colour}_{b.colour}"}
        assert rel.records[i].answer == att.records[i].answer == 1
        assert rel.records[i].image.box == (0, 0, 32, 32)
    item = rel[1]
    assert item["image"].size == (32, 32)
    assert (
        np.abs(
            np.asarray(item["image"], dtype=float) - np.asarray(world.scene("eval", 1).image, dtype=float)
        ).mean()
        < 6
    )
