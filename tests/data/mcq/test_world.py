"""MCQ on the procedural world: hierarchy distractors are the shape family's siblings."""

from __future__ import annotations

import pytest

from vlmrobust.data.mcq import build_mcq_from_samples, world_tree_distance
from vlmrobust.data.mcq.world import build_world_mcq
from vlmrobust.data.world import CLASS_NAMES, FAMILIES, ProceduralWorld, family
from vlmrobust.data.world.datasets import LabelledDataset


@pytest.fixture(scope="module")
def sketch() -> LabelledDataset:
    return LabelledDataset(ProceduralWorld(0), "sketch", "eval", size=36)  # labels i % 18: each class twice


def test_hierarchy_picks_siblings(sketch):
    bench = build_world_mcq(sketch, "hierarchy", seed=0)
    assert len(bench.questions) == 36 and bench.eval_set == "world/sketch"
    sizes = sorted(len(v) for v in FAMILIES.values())
    assert sizes == [5, 5, 8]
    for q in bench.questions:
        answer = CLASS_NAMES[q.answer_class]
        fam = family(answer)
        distractors = [CLASS_NAMES[c] for c in q.options if c != q.answer_class]
        assert all(family(d) == fam for d in distractors)  # 4 siblings exist in every family
        if len(FAMILIES[fam]) == 5:
            assert sorted(distractors) == sorted(c for c in FAMILIES[fam] if c != answer)
        assert q.sample_id.startswith("world/sketch/eval/")
    assert bench.stats["mean_tree_distance"] == 2.0
    # random expectation by hand: a class of a 5-family has 4 siblings at 2 and 13 classes at 4 (60/17);
    # of the 8-family 7 at 2 and 10 at 4 (54/17); 10 classes of the first kind, 8 of the second
    assert bench.stats["random_tree_distance"] == pytest.approx((10 * 60 / 17 + 8 * 54 / 17) / 18)
    assert bench.stats["world_seed"] == 0


def test_random_and_generic_builder(sketch):
    rand = build_world_mcq(sketch, "random", seed=0)
    assert rand.stats["mean_tree_distance"] > 3.0
    with pytest.raises(ValueError, match="visual"):
        build_world_mcq(sketch, "visual")
    samples = [("a", "a.png", (0,)), ("b", "b.png", (5, 6))]
    bench = build_mcq_from_samples(
        "toy", CLASS_NAMES, samples, tree_distance=world_tree_distance(), num_options=3
    )
    assert bench.questions[1].labels == (5, 6) and 6 not in bench.questions[1].options
