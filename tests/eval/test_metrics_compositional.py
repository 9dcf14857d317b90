"""Compositional benchmark rules by hand: official tie rules, What'sUp pair/set arithmetic (side by side with a
re-implementation of the official ``evaluate_scores``), ARO macros, hard positives, MMVP (relaxed) and MMVP-VLM."""

import numpy as np
import pytest

from vlmrobust.eval.metrics import (
    BENCHMARKS,
    Accuracy,
    benchmark_metrics,
    choice_correct,
    choice_prediction,
    relaxed_pair_accuracy,
)


def _acc(value: Accuracy | float) -> tuple[int, int]:
    assert isinstance(value, Accuracy)
    return value.correct, value.n


# --- benchmark names and choice rules ---------------------------------------------------------------


def test_benchmark_names_and_unknown_one_suggests():
    assert BENCHMARKS == (
        "whatsup", "spatial", "aro-relation", "aro-attribution", "order", "hard-positives", "mmvp",
        "mmvp-vlm", "retrieval",
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"Did you mean 'whatsup'.*Valid benchmarks: aro-attribution"):
        choice_prediction("whatsupp", np.zeros((1, 4)))
    with pytest.raises(ValueError, match="retrieval_ranks"):
        benchmark_metrics("retrieval", np.ones(1, bool), [{}])


def test_argmax_ties_go_to_the_lowest_index():
    scores = np.array([[0.5, 0.5, 0.1, 0.1], [0.1, 0.7, 0.7, 0.2], [1.0, 1.0, 1.0, 1.0]])
    for benchmark in ("whatsup", "spatial", "aro-relation", "order", "mmvp"):
        assert choice_prediction(benchmark, scores).tolist() == [0, 1, 0]


def test_mmvp_vlm_exact_tie_picks_the_second_image():
    scores = np.array([[0.3, 0.3], [0.31, 0.3], [0.2, 0.9]])
    assert choice_prediction("mmvp-vlm", scores).tolist() == [1, 0, 1]
    assert choice_correct("mmvp-vlm", scores, np.array([0, 0, 0])).tolist() == [False, True, False]
    with pytest.raises(ValueError, match="two images"):
        choice_prediction("mmvp-vlm", np.zeros((2, 3)))


def test_nan_scores_are_refused_naming_the_rows():
    scores = np.array([[0.0, 1.0], [np.nan, 1.0], [0.0, 0.0], [0.0, np.nan]])
    with pytest.raises(ValueError, match=r"record\(s\) \[1, 3\] contain NaN"):
        choice_prediction("whatsup", scores)
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        choice_correct("hard-positives", np.c_[scores, np.zeros(4)], np.zeros(4))


def test_tie_rules_per_benchmark():
    tie = np.array([[0.4, 0.4]])
    # What'sUp / spatial: gold first, a tie with the gold is correct
    assert choice_correct("whatsup", np.array([[0.4, 0.4, 0.1, 0.4]]), np.array([0])).tolist() == [True]
    assert choice_correct("spatial", tie, np.array([0])).tolist() == [True]
    # ARO VG-R / VG-A: options [false, true], a tie picks the false caption
    assert choice_correct("aro-relation", tie, np.array([1])).tolist() == [False]
    assert choice_correct("aro-attribution", tie, np.array([1])).tolist() == [False]
    # Order: original first, a tie is right
    assert choice_correct("order", np.array([[0.2, 0.2, 0.2, 0.1, 0.0]]), np.array([0])).tolist() == [True]


def test_hard_positive_correctness_is_strict_and_ignores_the_hard_positive():
    scores = np.array([[0.9, 0.1, 0.95], [0.5, 0.5, 0.1], [0.1, 0.5, 0.9]])
    assert choice_correct("hard-positives", scores, np.zeros(3)).tolist() == [True, False, False]
    with pytest.raises(ValueError, match=r"record\(s\) \[1\] differ"):
        choice_correct("hard-positives", scores, np.array([0, 1, 0]))
    with pytest.raises(ValueError, match="got 2 scores"):
        choice_correct("hard-positives", scores[:, :2], np.zeros(3))


def test_shape_mismatches_are_refused():
    with pytest.raises(ValueError, match=r"answer has 2 entries for 3 records"):
        choice_correct("whatsup", np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match=r"\[N, K\]"):
        choice_prediction("order", np.zeros(5))
    with pytest.raises(ValueError, match="2 meta records for 3"):
        benchmark_metrics("spatial", np.ones(3, bool), [{}, {}])
    with pytest.raises(ValueError, match="scores have 2 rows for 3"):
        benchmark_metrics("spatial", np.ones(3, bool), [{}] * 3, scores=np.zeros((2, 2)))


# --- What'sUp ----------------------------------------------------------------------------------------

# group A is complete once its duplicate "right" (record 12) overwrites the wrong record 3; C has one member;
# D lacks "under". Scores: row 0 ties the gold with its opposite (4-way right, 2-way wrong), row 3 is 4-way
# wrong but 2-way right.
WHATSUP = [
    ("A", "on", [0.5, 0.5, 0.1, 0.1], 1),
    ("A", "under", [0.9, 0.1, 0.2, 0.3], 1),
    ("A", "left", [0.9, 0.1, 0.2, 0.3], 1),
    ("A", "right", [0.5, 0.8, 0.1, 0.2], 3),
    ("B", "on", [0.9, 0.1, 0.2, 0.3], 1),
    ("B", "under", [0.9, 0.1, 0.2, 0.3], 1),
    ("B", "left", [0.9, 0.1, 0.2, 0.3], 1),
    ("B", "right", [0.9, 0.1, 0.2, 0.3], 1),
    ("C", "left", [0.9, 0.1, 0.2, 0.3], 1),
    ("D", "left", [0.9, 0.1, 0.2, 0.3], 1),
    ("D", "right", [0.9, 0.1, 0.2, 0.3], 1),
    ("D", "on", [0.9, 0.1, 0.2, 0.3], 1),
    ("A", "right", [0.9, 0.1, 0.2, 0.3], 1),
]


def _whatsup_inputs(rows=WHATSUP):
    meta = [{"group": f"{g}|table", "relation": r, "opposite": o} for g, r, _, o in rows]
    scores = np.array([s for _, _, s, _ in rows])
    return scores, meta


def test_whatsup_individual_pair_and_set_of_4_by_hand():
    scores, meta = _whatsup_inputs()
    correct = choice_correct("whatsup", scores, np.zeros(13))
    assert correct.tolist() == [True, True, True, False] + [True] * 9
    out = benchmark_metrics("whatsup", correct, meta)
    assert _acc(out["top1"]) == _acc(out["individual"]) == (12, 13)
    # pairs: A left/right (after the overwrite) + A on/under + B both + D left/right = 5 of N/2 = 6.5
    assert out["pair"] == pytest.approx(5 / 6.5)
    # sets: A and B (C has one member, D lacks "under") = 2 of N/4 = 3.25
    assert out["set_of_4"] == pytest.approx(2 / 3.25)
    # per preposition pair: left/right records 2, 3, 6, 7, 8, 9, 10, 12 (3 wrong); on/under 0, 1, 4, 5, 11
    assert _acc(out["individual_left_right"]) == (7, 8)
    assert out["pair_left_right"] == pytest.approx(3 / 4)
    assert _acc(out["individual_on_under"]) == (5, 5)
    assert out["pair_on_under"] == pytest.approx(2 / 2.5)
    assert "pair_in-front_behind" not in out and "individual_2way" not in out


def test_whatsup_strict_two_way_variant_by_hand():
    scores, meta = _whatsup_inputs()
    out = benchmark_metrics("whatsup", choice_correct("whatsup", scores, np.zeros(13)), meta, scores=scores)
    assert _acc(out["individual_2way"]) == (12, 13)  # row 0's tie is wrong, row 3 is right
    # A left/right, B both, D left/right (A on/under lost to row 0's tie) = 4 of 6.5
    assert out["pair_2way"] == pytest.approx(4 / 6.5)
    assert _acc(out["individual_2way_left_right"]) == (8, 8)
    assert out["pair_2way_left_right"] == pytest.approx(3 / 4)
    assert _acc(out["individual_2way_on_under"]) == (4, 5)
    assert out["pair_2way_on_under"] == pytest.approx(1 / 2.5)
    assert isinstance(out["pair"], float) and isinstance(out["set_of_4"], float)


def test_whatsup_subset_b_and_above_below_pairs():
    rows = [
        ("m", "in-front", [1.0, 0.0], 1),
        ("m", "behind", [1.0, 0.0], 1),
        ("m", "left", [0.0, 1.0], 1),
        ("n", "above", [1.0, 0.0], 1),
        ("n", "below", [1.0, 0.0], 1),
    ]
    scores, meta = _whatsup_inputs(rows)
    out = benchmark_metrics("whatsup", choice_correct("whatsup", scores, np.zeros(5)), meta)
    assert out["pair_in-front_behind"] == pytest.approx(1 / 1) and out["pair_above_below"] == 1.0
    assert out["pair_left_right"] == 0.0 and _acc(out["individual_left_right"]) == (0, 1)
    assert out["pair"] == pytest.approx(2 / 2.5) and out["set_of_4"] == 0.0
    assert "pair_on_under" not in out


def test_whatsup_bad_meta_is_refused():
    scores, meta = _whatsup_inputs(WHATSUP[:2])
    ok = np.ones(2, bool)
    with pytest.raises(ValueError, match=r"record 1 has relation 'left_of'.*Did you mean 'left'"):
        benchmark_metrics("whatsup", ok, [meta[0], {**meta[1], "relation": "left_of"}])
    with pytest.raises(ValueError, match=r"record 0 has no meta field 'group'"):
        benchmark_metrics("whatsup", ok, [{"relation": "on"}, meta[1]])
    with pytest.raises(ValueError, match=r"record 1 has opposite 0 for answer 0"):
        benchmark_metrics("whatsup", ok, [meta[0], {**meta[1], "opposite": 0}], scores=scores)
    five = [{"group": "g", "relation": r, "opposite": 1} for r in ("on", "under", "left", "right", "behind")]
    with pytest.raises(ValueError, match=r"group 'g' has 5 relations"):
        benchmark_metrics("whatsup", np.ones(5, bool), five)


def _official_whatsup(dataset: list[dict], scores: np.ndarray, subset: str) -> tuple[float, float, float]:
    """Re-implementation of amitakamath/whatsup_vlms ``dataset_zoo/aro_datasets.py``: ``Controlled_Images``'s
    ``eval_dict`` (built in ``__init__``) and the arithmetic of ``evaluate_scores``; the prints and the
    ``pred_dict`` preposition confusion table are left out. Returns individual, pair and set accuracy as
    fractions (the official code prints percentages)."""

    def key(d):
        name = d["image_path"].split("/")[-1]
        return name.split("_")[0], name.split("_")[-1][:-5]

    relations = ("left", "right", "on", "under") if subset == "A" else ("left", "right", "in-front", "behind")
    eval_dict = {key(d): dict.fromkeys(relations, 0) for d in dataset}
    preds = np.argmax(np.squeeze(scores, axis=1), axis=-1)  # scores: N x 1 x 4
    correct_mask = preds == 0
    for d, correct in zip(dataset, correct_mask, strict=True):
        eval_dict[key(d)][d["image_path"].split("/")[-1].split("_")[1]] = correct
    pair_correct = set_correct = 0
    for correct_dict in eval_dict.values():
        if correct_dict["left"] and correct_dict["right"]:
            pair_correct += 1
        if subset == "A":
            if correct_dict["on"] and correct_dict["under"]:
                pair_correct += 1
        elif correct_dict["in-front"] and correct_dict["behind"]:
            pair_correct += 1
        if sum(correct_dict.values()) == 4:
            set_correct += 1
    return float(np.mean(correct_mask)), pair_correct / (len(dataset) / 2), set_correct / (len(dataset) / 4)


@pytest.mark.parametrize("subset", ["A", "B"])
@pytest.mark.parametrize("seed", range(4))
def test_whatsup_matches_the_official_evaluate_scores(subset, seed):
    rng = np.random.default_rng(seed)
    tokens = (
        ("on", "under", "left_of", "right_of")
        if subset == "A"
        else ("in-front_of", "behind", "left_of", "right_of")
    )
    objects = ["mug", "beer-bottle", "water-filter", "cup", "pen", "sun-glasses", "bowl", "knife"]
    dataset = [
        {"image_path": f"data/controlled_images/{obj}_{rel}_{base}.jpeg"}
        for obj in objects
        for base in ("table", "armchair")
        for rel in tokens
        if rng.random() > 0.15  # some groups miss relations, some keep one member
    ]
    dataset += [dict(dataset[i]) for i in rng.choice(len(dataset), 5)]  # duplicates, later ones overwrite
    n = len(dataset)
    scores = rng.integers(0, 3, size=(n, 4)).astype(float)  # many ties, the gold often among the best
    scores[:, 0] = rng.integers(1, 3, size=n)
    official = _official_whatsup(dataset, scores[:, None, :], subset)

    meta = []
    for d in dataset:
        parts = d["image_path"].split("/")[-1].split("_")  # the reader's parsing of the official file name
        meta.append({"group": f"{parts[0]}|{parts[-1][:-5]}", "relation": parts[1], "opposite": 1})
    out = benchmark_metrics("whatsup", choice_correct("whatsup", scores, np.zeros(n)), meta)
    assert (out["individual"].value, out["pair"], out["set_of_4"]) == pytest.approx(official)
    assert 0 < official[2] < official[1] < official[0] < 1  # non-trivial values on every seed


# --- spatial, ARO, Order -----------------------------------------------------------------------------


def test_spatial_and_order_store_top1_only():
    ok = np.array([True, False, True])
    for benchmark in ("spatial", "order"):
        out = benchmark_metrics(benchmark, ok, [{}] * 3)
        assert list(out) == ["top1"] and _acc(out["top1"]) == (2, 3)


ARO_RELATIONS = ["on", "on", "on", "next to", "next to", "eating"]
ARO_CORRECT = np.array([True, True, False, True, False, True])


def test_aro_relation_macro_excludes_symmetric_relations():
    meta = [{"relation": r} for r in ARO_RELATIONS]
    out = benchmark_metrics("aro-relation", ARO_CORRECT, meta, symmetric=["next to", "beside"])
    assert _acc(out["top1"]) == (4, 6)
    assert _acc(out["relation/on"]) == (2, 3)
    assert _acc(out["relation/next to"]) == (1, 2)
    assert _acc(out["relation/eating"]) == (1, 1)
    assert out["macro"] == pytest.approx((2 / 3 + 1) / 2)
    # default: nothing excluded, no count threshold; with min_count=2 "eating" (1 record) drops out
    assert benchmark_metrics("aro-relation", ARO_CORRECT, meta)["macro"] == pytest.approx(
        (2 / 3 + 1 / 2 + 1) / 3
    )
    kept = benchmark_metrics("aro-relation", ARO_CORRECT, meta, symmetric=["next to"], min_count=2)
    assert kept["macro"] == pytest.approx(2 / 3)


def test_aro_attribution_macro_keeps_pairs_with_25_samples():
    meta = [{"attributes": "white_red"}] * 25 + [{"attributes": "big_small"}] * 24
    ok = np.array([True] * 20 + [False] * 5 + [True] * 24)
    out = benchmark_metrics("aro-attribution", ok, meta)
    assert out["macro"] == pytest.approx(0.8) and _acc(out["top1"]) == (44, 49)
    assert benchmark_metrics("aro-attribution", ok, meta, min_count=0)["macro"] == pytest.approx(0.9)
    assert np.isnan(benchmark_metrics("aro-attribution", ok[25:], meta[25:])["macro"])


# --- hard positives ----------------------------------------------------------------------------------


def test_hard_positive_metrics_by_hand():
    scores = np.array([
        [0.9, 0.1, 0.5],  # original, augmented
        [0.9, 0.5, 0.1],  # original, brittle (c > c_n > c_p)
        [0.1, 0.5, 0.9],  # brittle (c_p > c_n > c)
        [0.5, 0.5, 0.9],  # tie c = c_n: neither correct nor brittle
        [0.9, 0.5, 0.5],  # tie c_p = c_n: original only
    ])  # fmt: skip
    correct = choice_correct("hard-positives", scores, np.zeros(5))
    out = benchmark_metrics("hard-positives", correct, [{}] * 5, scores=scores)
    assert _acc(out["top1"]) == _acc(out["original"]) == (3, 5)
    assert _acc(out["augmented"]) == (1, 5)
    assert _acc(out["brittleness"]) == (2, 5)
    with pytest.raises(ValueError, match="need the option scores"):
        benchmark_metrics("hard-positives", correct, [{}] * 5)
    with pytest.raises(ValueError, match="correct differs"):
        benchmark_metrics("hard-positives", ~correct, [{}] * 5, scores=scores)


# --- MMVP --------------------------------------------------------------------------------------------

# (pair, row, answer, option scores); pair 2 lacks its second row. Pair 0: both right (relaxed right);
# pair 1: second wrong but image 1 prefers its option more (relaxed right); pair 3: both wrong.
MMVP = [
    (0, 0, 0, [0.6, 0.4]),
    (0, 1, 1, [0.3, 0.7]),
    (1, 2, 1, [0.3, 0.7]),
    (1, 3, 0, [0.45, 0.55]),
    (2, 4, 0, [0.9, 0.1]),
    (3, 6, 0, [0.4, 0.6]),
    (3, 7, 1, [0.7, 0.3]),
]


def _mmvp_inputs(rows=MMVP):
    meta = [{"pair": p, "row": r} for p, r, _, _ in rows]
    return np.array([a for _, _, a, _ in rows]), np.array([s for *_, s in rows]), meta


def test_mmvp_question_pair_and_relaxed_pair_by_hand():
    answer, scores, meta = _mmvp_inputs()
    correct = choice_correct("mmvp", scores, answer)
    assert correct.tolist() == [True, True, True, False, True, False, False]
    out = benchmark_metrics("mmvp", correct, meta, scores=scores, answer=answer)
    assert _acc(out["top1"]) == _acc(out["question"]) == (4, 7)
    assert _acc(out["pair"]) == (1, 3)  # the incomplete pair 2 does not count
    assert "pair_relaxed" not in out
    out = benchmark_metrics("mmvp", correct, meta, scores=scores, answer=answer, strengths=scores)
    # pair 0: 0.6 > 0.3; pair 1 (a = 1): 0.7 > 0.55; pair 3: 0.4 > 0.7 fails
    assert _acc(out["pair_relaxed"]) == (2, 3)
    assert _acc(relaxed_pair_accuracy(scores, answer, [m["pair"] for m in meta])) == (2, 3)


def test_relaxed_pair_rule_is_symmetric_and_reads_inverse_perplexity():
    answer, scores, meta = _mmvp_inputs()
    pairs = [m["pair"] for m in meta]
    order = [1, 0, 3, 2, 4, 6, 5]  # each pair's second record first
    assert _acc(relaxed_pair_accuracy(scores[order], answer[order], [pairs[i] for i in order])) == (2, 3)
    # mean log-probs -> inverse perplexity exp(mean log p): the better match has the larger strength
    logp = np.log(np.array([[0.8, 0.2], [0.4, 0.6]]))
    assert _acc(relaxed_pair_accuracy(np.exp(logp), np.array([0, 1]), ["p", "p"])) == (1, 1)


def test_mmvp_bad_pairs_are_refused():
    _, scores, meta = _mmvp_inputs()
    ok = np.ones(7, bool)
    with pytest.raises(ValueError, match="pair 0 has 3 records"):
        benchmark_metrics("mmvp", np.ones(8, bool), [*meta, {"pair": 0, "row": 9}])
    with pytest.raises(ValueError, match="pair 0 has two records of row 0"):
        benchmark_metrics("mmvp", ok, [meta[0], {"pair": 0, "row": 0}, *meta[2:]])
    with pytest.raises(ValueError, match="opposite answers"):
        relaxed_pair_accuracy(scores, np.zeros(7), [m["pair"] for m in meta])
    with pytest.raises(ValueError, match=r"> 0; record\(s\) \[1\]"):
        relaxed_pair_accuracy(np.array([[0.5, 0.5], [-0.1, 0.3]]), np.array([0, 1]), ["p", "p"])
    with pytest.raises(ValueError, match="needs the answers"):
        benchmark_metrics("mmvp", ok, meta, strengths=scores)


# --- MMVP-VLM ----------------------------------------------------------------------------------------


def test_mmvp_vlm_statement_pair_and_pattern_by_hand():
    rows = [  # (pair, pattern, answer = the image the statement describes, scores of the two images)
        (0, "Orientation", 0, [0.3, 0.3]),  # exact tie picks image 1 (index 1): wrong
        (0, "Orientation", 1, [0.3, 0.3]),  # ... and right here
        (1, "Orientation", 0, [0.9, 0.1]),
        (1, "Orientation", 1, [0.1, 0.9]),
        (2, "Color", 0, [0.9, 0.1]),
        (2, "Color", 1, [0.2, 0.8]),
        (3, "Color", 0, [0.9, 0.1]),  # incomplete pair
    ]
    scores = np.array([s for *_, s in rows])
    correct = choice_correct("mmvp-vlm", scores, np.array([a for _, _, a, _ in rows]))
    assert correct.tolist() == [False] + [True] * 6
    meta = [{"pair": p, "pattern": t} for p, t, _, _ in rows]
    out = benchmark_metrics("mmvp-vlm", correct, meta, scores=scores)
    assert _acc(out["top1"]) == _acc(out["statement"]) == (6, 7)
    assert _acc(out["pair"]) == (2, 3)
    assert _acc(out["pattern/Orientation"]) == (1, 2)
    assert _acc(out["pattern/Color"]) == (1, 1)
    with pytest.raises(ValueError, match="pair 2 have patterns 'Color' and 'Texts'"):
        benchmark_metrics("mmvp-vlm", correct, [*meta[:5], {"pair": 2, "pattern": "Texts"}, meta[6]])
