"""MCQ builder: hierarchy closer than random, multi-label exclusion, determinism, stats by hand."""

from __future__ import annotations

import numpy as np
import pytest

from vlmrobust.data.imagenet import (
    ImageSet,
    Sample,
    imagenet_1k_classes,
    imagenet_r_classes,
    objectnet_classes,
)
from vlmrobust.data.mcq import build_mcq, build_options, in1k_tree_distance


def make_set(labels: list[tuple[int, ...]], classes=None, name: str = "toy") -> ImageSet:
    classes = classes or imagenet_1k_classes()
    samples = tuple(Sample(f"img{i:05d}", f"/data/{i}.jpg", ls, ls) for i, ls in enumerate(labels))
    return ImageSet(name, "/data", samples, classes, multi_label=any(len(ls) > 1 for ls in labels))


@pytest.fixture(scope="module")
def val() -> ImageSet:
    return make_set([(i % 1000,) for i in range(3000)], name="imagenet-val")


def mean_distance(bench) -> float:
    dist = in1k_tree_distance()
    per_q = [
        np.mean([dist[q.answer_class, c] for j, c in enumerate(q.options) if j != q.answer])
        for q in bench.questions
    ]
    return float(np.mean(per_q))


def test_hierarchy_is_closer_than_random(val):
    hier = build_mcq(val, "hierarchy", num_questions=500, seed=0)
    rand = build_mcq(val, "random", num_questions=500, seed=0)
    h, r = mean_distance(hier), mean_distance(rand)
    assert h < r - 5  # nearest WordNet classes are a few steps away; random ones ~12
    assert hier.stats["mean_tree_distance"] == pytest.approx(h)
    assert rand.stats["mean_tree_distance"] == pytest.approx(r)
    # the random expectation (analytic) agrees with the random file, and is the same in both stats
    assert rand.stats["random_tree_distance"] == pytest.approx(r, abs=0.3)
    assert hier.stats["random_tree_distance"] == rand.stats["random_tree_distance"]


def test_random_expectation_by_hand():
    labels = [(0,), (1,)]
    idx, options, answer = build_options(labels, 1000, "random", num_questions=None, seed=0)
    dist = in1k_tree_distance().astype(float)
    from vlmrobust.data.mcq import question_stats

    stats = question_stats(labels, idx, options, answer, {"tree": dist})
    want = np.mean([dist[0].sum() / 999, dist[1].sum() / 999])
    assert stats["random_tree_distance"] == pytest.approx(want)


def test_question_fields_and_option_shuffle(val):
    bench = build_mcq(val, "hierarchy", num_questions=2000, seed=3)
    names = imagenet_1k_classes().names
    counts = np.zeros(5, dtype=int)
    for q in bench.questions:
        assert len(q.options) == 5 and len(set(q.options)) == 5
        assert q.answer_class == q.labels[0]
        assert q.option_names == tuple(names[c] for c in q.options)
        assert q.strategy == "hierarchy" and q.seed == 3 and q.format_version == "vlmrobust-mcq/2"
        counts[q.answer] += 1
    assert counts.sum() == 2000 and all(330 < c < 470 for c in counts)  # 400 expected per position
    assert bench.stats["answer_position_counts"] == counts.tolist()
    assert len({q.question_id for q in bench.questions}) == 2000
    assert len({q.sample_id for q in bench.questions}) == 2000


def test_multi_label_exclusion():
    # tench (0) and goldfish (1) are 2 apart: hierarchy would pick goldfish as a distractor for tench
    bench = build_mcq(make_set([(0, 1)] * 50 + [(0,)] * 50), "hierarchy", num_questions=None, seed=0)
    multi = [q for q in bench.questions if len(q.labels) == 2]
    single = [q for q in bench.questions if len(q.labels) == 1]
    assert multi and all(1 not in q.options for q in multi)
    assert all(1 in q.options for q in single)
    # few classes: with 3 of 6 classes correct, the 3 distractors are exactly the other three
    _, options, answer = build_options([(0, 1, 2)], 6, "random", num_options=4, num_questions=None)
    assert sorted(options[0].tolist()) == [0, 3, 4, 5]
    assert options[0][answer[0]] == 0


def test_determinism_and_shared_images(val):
    a = build_mcq(val, "hierarchy", num_questions=300, seed=7)
    b = build_mcq(val, "hierarchy", num_questions=300, seed=7)
    c = build_mcq(val, "hierarchy", num_questions=300, seed=8)
    r = build_mcq(val, "random", num_questions=300, seed=7)
    assert a.questions == b.questions
    assert [q.sample_id for q in a.questions] != [q.sample_id for q in c.questions]
    assert [q.sample_id for q in a.questions] == [q.sample_id for q in r.questions]  # same images per seed
    assert [q.options for q in a.questions] != [q.options for q in r.questions]


def test_shift_class_sets():
    r_classes, on_classes = imagenet_r_classes(), objectnet_classes()
    r_set = make_set([(k % 200,) for k in range(400)], r_classes, "imagenet-r")
    on_set = make_set([(k % 113,) for k in range(226)], on_classes, "objectnet")
    for image_set, n in ((r_set, 200), (on_set, 113)):
        bench = build_mcq(image_set, "hierarchy", num_questions=100, seed=0)
        assert bench.stats["num_classes"] == n and len(bench.questions) == 100
        for q in bench.questions:
            assert all(0 <= c < n for c in q.options)
            assert q.option_names == tuple(image_set.classes.names[c] for c in q.options)
        assert bench.stats["mean_tree_distance"] < bench.stats["random_tree_distance"]


def test_bad_arguments(val):
    with pytest.raises(ValueError, match="Did you mean 'hierarchy'"):
        build_mcq(val, "hierarchi", num_questions=10)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="centroids_distance"):
        build_mcq(val, "visual", num_questions=10)
    with pytest.raises(ValueError, match="no sample leaves"):
        build_options([(0,)], 3, "random", num_options=5)


def test_hierarchy_distractors_are_the_nearest_up_to_ties(val):
    dist = in1k_tree_distance()
    bench = build_mcq(val, "hierarchy", num_questions=300, seed=11)
    for q in bench.questions:
        a = q.answer_class
        chosen = [c for c in q.options if c != a]
        others = np.setdiff1d(np.arange(1000), [*q.options, *q.labels])
        # brute force: no allowed class outside the options is strictly nearer than a chosen distractor
        assert max(dist[a, chosen]) <= dist[a, others].min()


def test_multi_label_answer_is_the_official_label_when_in_the_clean_set():
    # DESIGN: the correct option of a multi-label image is its official label when that is in the clean set,
    # else the first proposed label; the question records which
    samples = (
        Sample("a", "/a.jpg", (5, 7), (5, 7), official=7),  # official 7 proposed second: still the answer
        Sample("b", "/b.jpg", (9, 3), (9, 3), official=4),  # official 4 not in the clean set: first proposed
        Sample("c", "/c.jpg", (2,), (2,), official=2),
    )
    image_set = ImageSet("imagenet-val-clean", "/", samples, imagenet_1k_classes(), multi_label=True)
    bench = build_mcq(image_set, "random", num_questions=None, seed=0)
    got = [(q.sample_id, q.answer_class, q.labels, q.answer_source) for q in bench.questions]
    assert got == [
        ("a", 7, (7, 5), "official"), ("b", 9, (9, 3), "first_proposed"), ("c", 2, (2,), "official"),
    ]  # fmt: skip
    for q in bench.questions:
        assert not set(q.labels) & {
            c for j, c in enumerate(q.options) if j != q.answer
        }  # no correct distractor
    assert bench.stats["first_proposed_answers"] == 1
    single = build_mcq(make_set([(4,), (8,)]), "random", num_questions=None, seed=0)
    assert {q.answer_source for q in single.questions} == {"official"}
