"""Two-object scenes: relations match the geometry, captions and hard negatives are well formed."""

from __future__ import annotations

import torch

from vlmrobust.data.world import RELATIONS, ProceduralWorld, SceneDataset, collate_scenes
from vlmrobust.data.world.scenes import Scene, SceneObject


def test_relation_matches_object_centres():
    world = ProceduralWorld(seed=0)
    seen = set()
    for i in range(80):
        sc = world.scene("eval", i)
        (xa, ya), (xb, yb) = sc.centres
        dx, dy = xa - xb, ya - yb  # first minus second, y down
        expected = (
            ("left of" if dx < 0 else "right of") if abs(dx) > abs(dy) else ("above" if dy < 0 else "below")
        )
        assert sc.relation == expected, (i, sc.centres, sc.relation)
        assert sc.first.shape != sc.second.shape and sc.first.colour != sc.second.colour
        assert sc.image.size == (32, 32)
        seen.add(sc.relation)
    assert seen == set(RELATIONS)


def test_captions_and_hard_negatives_by_hand():
    sc = Scene(
        None, SceneObject("circle", "red"), SceneObject("ellipse", "orange"), "left of", ((8, 16), (24, 16))
    )
    assert sc.relation_caption() == "a red circle to the left of an orange ellipse"
    assert sc.relation_options == [
        "a red circle to the left of an orange ellipse",
        "a red circle to the right of an orange ellipse",
        "a red circle above an orange ellipse",
        "a red circle below an orange ellipse",
    ]
    assert sc.relation_negative == "a red circle to the right of an orange ellipse"
    assert sc.swapped_objects == "an orange ellipse to the left of a red circle"
    assert sc.relation_positive == "an orange ellipse to the right of a red circle"
    assert sc.attribute_caption == "a red circle and an orange ellipse"
    assert sc.attribute_negative == "an orange circle and a red ellipse"
    assert sc.attribute_positive == "an orange ellipse and a red circle"
    assert ("Is the circle to the left of the ellipse?", "yes") in sc.questions()


def test_scene_dataset_is_deterministic_and_collates():
    ds = SceneDataset(ProceduralWorld(seed=1), size=6)
    again = SceneDataset(ProceduralWorld(seed=1), size=6)
    assert torch.equal(ds[2]["image"], again[5 - 3]["image"]) and ds[2]["caption"] == again[2]["caption"]
    assert ds.sample_id(2) == "world/scenes/eval/2"
    batch = collate_scenes([ds[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, 32, 32)
    assert len(batch["options"]) == 4 and all(len(o) == 4 for o in batch["options"])
    assert all(o[0] == c for o, c in zip(batch["options"], batch["caption"], strict=True))
    train = {SceneDataset(ProceduralWorld(seed=1), "train", size=6)[i]["caption"] for i in range(6)}
    assert train != {ds[i]["caption"] for i in range(6)}
