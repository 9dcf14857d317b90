"""Scoring rules and stored metrics of the compositional benchmarks, as their official repositories compute them.

A benchmark item is an image with K caption options (What'sUp, COCO/GQA-spatial, ARO, hard positives,
MMVP) or a statement with two candidate images (MMVP-VLM), scored by one number per option.

* :func:`choice_prediction` — the chosen option under the benchmark's official tie rule: the lowest index
  among the best options (numpy ``argmax``), except MMVP-VLM, whose official script picks image 1 only when
  its softmax probability is > 0.5, so an exact tie picks image 2.
* :func:`choice_correct` — per-sample correctness: the choice is the answer, except hard positives, where
  only the original caption against the hard negative counts (strict ``>``).
* :func:`benchmark_metrics` — the stored metrics of a benchmark from per-sample correctness, the records'
  ``meta`` fields and, where a metric needs them, the option scores.
* :func:`relaxed_pair_accuracy` — MMVP pair accuracy "with relaxed constraints" (clip_erroneous_agreements §5.2).

Consequences of the tie rules: a What'sUp/spatial/Order tie with the gold caption (index 0) is correct, an
ARO VG-Relation/VG-Attribution tie is wrong (the false caption is index 0), and the strict What'sUp 2-way
variant and all hard-positive comparisons count a tie as wrong.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.eval.metrics.accuracy import Accuracy, accuracy

#: Benchmarks with a scoring rule; "spatial" is COCO-/GQA-spatial, "order" COCO-/Flickr-Order.
BENCHMARKS: tuple[str, ...] = (
    "whatsup",
    "spatial",
    "aro-relation",
    "aro-attribution",
    "order",
    "hard-positives",
    "mmvp",
    "mmvp-vlm",
    "retrieval",
)
#: What'sUp's opposite-preposition pairs; a pair's metrics are named ``<a>_<b>``.
WHATSUP_PAIRS: tuple[tuple[str, str], ...] = (
    ("left", "right"),
    ("on", "under"),
    ("in-front", "behind"),
    ("above", "below"),
)
_WHATSUP_RELATIONS = tuple(r for pair in WHATSUP_PAIRS for r in pair)
#: VG-Attribution's official macro average keeps attribute pairs with at least this many samples.
ARO_ATTRIBUTION_MIN_COUNT = 25


def _check_benchmark(benchmark: str) -> None:
    if benchmark not in BENCHMARKS:
        raise ValueError(
            f"unknown benchmark {benchmark!r}. {did_you_mean(benchmark, BENCHMARKS, 'benchmarks')}"
        )
    if benchmark == "retrieval":
        raise ValueError(
            "retrieval has no options to choose from; rank it with "
            "vlmrobust.eval.metrics.retrieval.retrieval_ranks and recall_at_k"
        )


def _scores(scores: np.ndarray, what: str = "option scores") -> np.ndarray:
    """``scores`` as a float [N, K] array; NaN rows are an error naming them."""
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be [N, K], got shape {arr.shape}")
    bad = np.isnan(arr).any(axis=1)
    if bad.any():
        raise ValueError(f"{what} of record(s) {np.flatnonzero(bad)[:5].tolist()} contain NaN")
    return arr


def _answers(answer: np.ndarray, n: int) -> np.ndarray:
    arr = np.asarray(answer).reshape(-1)
    if arr.size != n:
        raise ValueError(f"answer has {arr.size} entries for {n} records")
    return arr.astype(np.int64)


def choice_prediction(benchmark: str, scores: np.ndarray) -> np.ndarray:
    """The chosen option of each record under the benchmark's official tie rule.

    Args:
        benchmark: one of :data:`BENCHMARKS` (not ``retrieval``).
        scores: option scores [N, K], higher = better match (K = 2 images for ``mmvp-vlm``).

    Returns:
        The chosen option [N] (int64): the lowest index among the highest scores; for ``mmvp-vlm`` image 0
        iff ``s0 > s1`` strictly, so an exact tie picks image 1.
    """
    _check_benchmark(benchmark)
    s = _scores(scores)
    if benchmark == "mmvp-vlm":
        if s.shape[1] != 2:
            raise ValueError(f"mmvp-vlm scores two images per statement, got {s.shape[1]} scores per record")
        return np.where(s[:, 0] > s[:, 1], 0, 1).astype(np.int64)
    return s.argmax(axis=1).astype(np.int64)


def choice_correct(benchmark: str, scores: np.ndarray, answer: np.ndarray) -> np.ndarray:
    """Per-record correctness [N] (bool): :func:`choice_prediction` equals ``answer``.

    For ``hard-positives`` the options are (c, c_n, c_p) with answer 0, and a record is correct iff
    s(c) > s(c_n) strictly (the hard positive does not compete; a tie is wrong).
    """
    _check_benchmark(benchmark)
    s = _scores(scores)
    gold = _answers(answer, s.shape[0])
    if benchmark == "hard-positives":
        _check_hard_positives(s, gold)
        return s[:, 0] > s[:, 1]
    return choice_prediction(benchmark, s) == gold


def _check_hard_positives(s: np.ndarray, gold: np.ndarray | None) -> None:
    if s.shape[1] != 3:
        raise ValueError(f"hard-positives scores are (c, c_n, c_p) per record, got {s.shape[1]} scores")
    if gold is not None and (gold != 0).any():
        raise ValueError(
            f"hard-positives answers are 0 (the original caption); record(s) "
            f"{np.flatnonzero(gold != 0)[:5].tolist()} differ"
        )


def _field(meta: Sequence[Mapping[str, Any]], i: int, key: str, benchmark: str) -> Any:
    try:
        return meta[i][key]
    except KeyError:
        raise ValueError(f"{benchmark}: record {i} has no meta field {key!r}") from None


def _ratio(hits: int, denominator: float) -> float:
    return hits / denominator if denominator else float("nan")


def complete_pairs(keys: Sequence[Hashable], benchmark: str) -> dict[Hashable, tuple[int, int]]:
    """Record indices of each pair with both members, in record order; a third member is an error."""
    members: dict[Hashable, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[key].append(i)
    too_many = [k for k, v in members.items() if len(v) > 2]
    if too_many:
        raise ValueError(
            f"{benchmark}: pair {too_many[0]!r} has {len(members[too_many[0]])} records (expected 2)"
        )
    return {k: (v[0], v[1]) for k, v in members.items() if len(v) == 2}


def benchmark_metrics(
    benchmark: str,
    correct: np.ndarray,
    meta: Sequence[Mapping[str, Any]],
    scores: np.ndarray | None = None,
    answer: np.ndarray | None = None,
    *,
    strengths: np.ndarray | None = None,
    symmetric: Collection[str] = (),
    min_count: int | None = None,
) -> dict[str, Accuracy | float]:
    """The stored metrics of a compositional benchmark, under their stored names.

    Args:
        benchmark: one of :data:`BENCHMARKS` (not ``retrieval``).
        correct: per-record correctness [N] (bool or 0/1), e.g. from :func:`choice_correct`.
        meta: per-record fields of the reader (see below), N mappings.
        scores: option scores [N, K]; needed by ``hard-positives`` and for What'sUp's 2-way variant.
        answer: the correct option [N] (default 0 for What'sUp); needed by ``pair_relaxed``.
        strengths: MMVP match strengths [N, 2] (higher = better; see :func:`relaxed_pair_accuracy`);
            given, the MMVP metrics add ``pair_relaxed``.
        symmetric: VG-Relation relations left out of ``macro`` (the protocol passes
            ``vlmrobust.data.aro.SYMMETRIC_RELATIONS``; the official notebook's list).
        min_count: smallest group kept in an ARO ``macro``; ``None`` is the official default (no threshold
            for VG-Relation, 25 for VG-Attribution), 0 keeps every group.

    Returns:
        Always ``top1`` (:class:`Accuracy` of ``correct``), and per benchmark:

        * ``whatsup`` (meta ``group`` "obj1|obj2", ``relation``, ``opposite``): ``individual``; ``pair`` =
          groups' both-correct opposite pairs / (N/2) and ``set_of_4`` = groups with four correct / (N/4),
          N the number of records; ``individual_<a>_<b>`` / ``pair_<a>_<b>`` for each preposition pair
          present (the pair's records / 2 as denominator); with ``scores`` the same ``*_2way`` metrics of
          the strict 2-way rule s[gold] > s[opposite].
        * ``spatial``, ``order``: ``top1`` only.
        * ``aro-relation`` (meta ``relation``): ``relation/<name>`` per relation and ``macro``, the mean
          over relations not in ``symmetric`` (and with >= ``min_count`` records when set).
        * ``aro-attribution`` (meta ``attributes`` "a0_a1"): ``macro`` over pairs with >= 25 records.
        * ``hard-positives`` (``scores`` [N, 3] of c, c_n, c_p): ``original``, ``augmented``, ``brittleness``.
        * ``mmvp`` (meta ``pair``, ``row``): ``question``, ``pair`` (over complete pairs), ``pair_relaxed``.
        * ``mmvp-vlm`` (meta ``pair``, ``pattern``): ``statement``, ``pair``, ``pattern/<name>``.

        Values over counted items are :class:`Accuracy`; What'sUp's pair and set values (whose
        denominators N/2 and N/4 are not counts of groups) and ARO macros are floats.
    """
    _check_benchmark(benchmark)
    top1 = accuracy(correct)
    ok = np.asarray(correct).reshape(-1).astype(bool)
    if len(meta) != top1.n:
        raise ValueError(f"{benchmark}: {len(meta)} meta records for {top1.n} correctness values")
    s = None if scores is None else _scores(scores)
    if s is not None and s.shape[0] != top1.n:
        raise ValueError(f"{benchmark}: scores have {s.shape[0]} rows for {top1.n} records")
    gold = None if answer is None else _answers(answer, top1.n)
    out: dict[str, Accuracy | float] = {"top1": top1}
    if benchmark == "whatsup":
        out.update(_whatsup(ok, meta, s, gold))
    elif benchmark == "aro-relation":
        relations = [str(_field(meta, i, "relation", benchmark)) for i in range(len(meta))]
        per, macro = _grouped(ok, relations, exclude=symmetric, min_count=min_count or 0)
        out.update({f"relation/{r}": acc for r, acc in sorted(per.items())})
        out["macro"] = macro
    elif benchmark == "aro-attribution":
        pairs = [str(_field(meta, i, "attributes", benchmark)) for i in range(len(meta))]
        threshold = ARO_ATTRIBUTION_MIN_COUNT if min_count is None else min_count
        out["macro"] = _grouped(ok, pairs, exclude=(), min_count=threshold)[1]
    elif benchmark == "hard-positives":
        out.update(_hard_positives(ok, s))
    elif benchmark == "mmvp":
        out.update(_mmvp(ok, meta, strengths, gold))
    elif benchmark == "mmvp-vlm":
        out.update(_mmvp_vlm(ok, meta))
    return out


def _whatsup(
    ok: np.ndarray, meta: Sequence[Mapping[str, Any]], s: np.ndarray | None, gold: np.ndarray | None
) -> dict[str, Accuracy | float]:
    """What'sUp's individual, pair and set-of-4 accuracies (``Controlled_Images.evaluate_scores``)."""
    n = len(meta)
    relations = [str(_field(meta, i, "relation", "whatsup")) for i in range(n)]
    for i, rel in enumerate(relations):
        if rel not in _WHATSUP_RELATIONS:
            raise ValueError(
                f"whatsup: record {i} has relation {rel!r}. "
                f"{did_you_mean(rel, _WHATSUP_RELATIONS, 'relations')}"
            )
    groups: dict[Hashable, dict[str, int]] = defaultdict(dict)
    for i, rel in enumerate(relations):
        groups[_field(meta, i, "group", "whatsup")][rel] = i  # a later duplicate overwrites, as officially
    for key, members in groups.items():
        if len(members) > 4:
            raise ValueError(
                f"whatsup: group {key!r} has {len(members)} relations {sorted(members)} (at most 4)"
            )
    rel_arr = np.asarray(relations)
    present = [p for p in WHATSUP_PAIRS if np.isin(rel_arr, p).any()]

    def variant(hit: np.ndarray, suffix: str) -> dict[str, Accuracy | float]:
        both = {
            p: sum(p[0] in m and p[1] in m and hit[m[p[0]]] and hit[m[p[1]]] for m in groups.values())
            for p in present
        }
        res: dict[str, Accuracy | float] = {f"individual{suffix}": accuracy(hit)}
        res[f"pair{suffix}"] = _ratio(sum(both.values()), n / 2)
        for a, b in present:
            mask = np.isin(rel_arr, (a, b))
            res[f"individual{suffix}_{a}_{b}"] = accuracy(hit[mask])
            res[f"pair{suffix}_{a}_{b}"] = _ratio(both[a, b], mask.sum() / 2)
        return res

    out = variant(ok, "")
    full = sum(len(m) == 4 and all(ok[i] for i in m.values()) for m in groups.values())
    out["set_of_4"] = _ratio(full, n / 4)
    if s is not None:
        g = np.zeros(n, dtype=np.int64) if gold is None else gold
        opp = np.asarray([int(_field(meta, i, "opposite", "whatsup")) for i in range(n)], dtype=np.int64)
        bad = (opp < 0) | (opp >= s.shape[1]) | (opp == g)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"whatsup: record {i} has opposite {opp[i]} for answer {g[i]} of {s.shape[1]} options"
            )
        rows = np.arange(n)
        out.update(variant(s[rows, g] > s[rows, opp], "_2way"))  # strict: a tie is wrong
    return out


def _grouped(
    ok: np.ndarray, keys: Sequence[str], exclude: Collection[str], min_count: int
) -> tuple[dict[str, Accuracy], float]:
    """Per-group accuracy and the mean over groups not excluded with at least ``min_count`` records."""
    members: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        members[key].append(i)
    per = {key: accuracy(ok[idx]) for key, idx in members.items()}
    kept = [acc.value for key, acc in per.items() if key not in exclude and acc.n >= min_count]
    return per, float(np.mean(kept)) if kept else float("nan")


def _hard_positives(ok: np.ndarray, s: np.ndarray | None) -> dict[str, Accuracy]:
    """Original, augmented accuracy and brittleness (``run_eval.py``), all comparisons strict."""
    if s is None:
        raise ValueError("hard-positives metrics need the option scores [N, 3] of (c, c_n, c_p)")
    _check_hard_positives(s, None)
    c, neg, pos = s[:, 0], s[:, 1], s[:, 2]
    original = c > neg
    if not np.array_equal(ok, original):
        raise ValueError("hard-positives: correct differs from s(c) > s(c_n) of the scores given")
    return {
        "original": accuracy(original),
        "augmented": accuracy(original & (pos > neg)),
        "brittleness": accuracy(((c > neg) & (neg > pos)) | ((pos > neg) & (neg > c))),
    }


def _mmvp(
    ok: np.ndarray, meta: Sequence[Mapping[str, Any]], strengths: np.ndarray | None, gold: np.ndarray | None
) -> dict[str, Accuracy]:
    """MMVP question and pair accuracy; pairs are the official consecutive rows, keyed by ``meta["pair"]``."""
    keys = [_field(meta, i, "pair", "mmvp") for i in range(len(meta))]
    pairs = complete_pairs(keys, "mmvp")
    for key, (r1, r2) in pairs.items():
        if _field(meta, r1, "row", "mmvp") == _field(meta, r2, "row", "mmvp"):
            raise ValueError(f"mmvp: pair {key!r} has two records of row {meta[r1]['row']!r}")
    out: dict[str, Accuracy] = {"question": accuracy(ok)}
    out["pair"] = Accuracy(sum(bool(ok[r1] and ok[r2]) for r1, r2 in pairs.values()), len(pairs))
    if strengths is not None:
        if gold is None:
            raise ValueError("mmvp: pair_relaxed needs the answers")
        out["pair_relaxed"] = _relaxed(strengths, gold, list(pairs.values()))
    return out


def relaxed_pair_accuracy(strengths: np.ndarray, answer: np.ndarray, pair: Sequence[Hashable]) -> Accuracy:
    """MMVP pair accuracy with relaxed constraints (clip_erroneous_agreements §5.2, Table 7).

    For a complete pair (records r1, r2 sharing the two options, opposite answers) with a = answer of
    r1, the pair is correct iff p[r1,a] / (p[r1,a] + p[r1,1-a]) > p[r2,a] / (p[r2,a] + p[r2,1-a]): image 1
    prefers its own option more than image 2 does ("(image 1, caption 1) with (image 2, caption 2) are
    more possible matches"), so chance is 50 %. The rule is symmetric in r1 and r2.

    The paper prints this inequality with token-normalised perplexities, under which a lower value is a
    better match and the inequality would reward the opposite of what its text describes; we read its
    "ppl" as the inverse perplexity exp(mean log-prob), a probability, so that the text's description
    holds. For CLIP the paper uses cosine similarity.

    Args:
        strengths: match strength of each record's two options [N, 2], > 0, higher = better match
            (inverse perplexity for a VLM, cosine for CLIP).
        answer: each record's correct option [N] (0 or 1).
        pair: each record's pair key [N]; pairs lacking a member are left out.

    Returns:
        Correct pairs of the complete pairs.
    """
    gold = _answers(answer, len(pair))
    return _relaxed(strengths, gold, list(complete_pairs(pair, "mmvp").values()))


def _relaxed(strengths: np.ndarray, gold: np.ndarray, pairs: list[tuple[int, int]]) -> Accuracy:
    p = _scores(strengths, "match strengths")
    if p.shape != (gold.size, 2):
        raise ValueError(f"match strengths must be [{gold.size}, 2], got shape {p.shape}")
    bad = ~(np.isfinite(p) & (p > 0)).all(axis=1)
    if bad.any():
        raise ValueError(
            f"match strengths must be finite and > 0; record(s) {np.flatnonzero(bad)[:5].tolist()} are not"
        )
    hits = 0
    for r1, r2 in pairs:
        a = int(gold[r1])
        if a not in (0, 1) or gold[r2] != 1 - a:
            raise ValueError(
                f"mmvp: records {r1} and {r2} of a pair need opposite answers 0/1, "
                f"got {gold[r1]} and {gold[r2]}"
            )
        hits += bool(p[r1, a] / (p[r1, a] + p[r1, 1 - a]) > p[r2, a] / (p[r2, a] + p[r2, 1 - a]))
    return Accuracy(hits, len(pairs))


def _mmvp_vlm(ok: np.ndarray, meta: Sequence[Mapping[str, Any]]) -> dict[str, Accuracy]:
    """MMVP-VLM statement, pair and per-pattern pair accuracy (``scripts/evaluate_vlm.py``).

    The official script divides a pattern's correct pairs by 15, its number of pairs; we divide by the
    pattern's complete pairs, which is the same on the complete benchmark and stays a proportion otherwise.
    """
    keys = [_field(meta, i, "pair", "mmvp-vlm") for i in range(len(meta))]
    hits: dict[str, int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    for key, (r1, r2) in complete_pairs(keys, "mmvp-vlm").items():
        pattern = str(_field(meta, r1, "pattern", "mmvp-vlm"))
        if str(_field(meta, r2, "pattern", "mmvp-vlm")) != pattern:
            raise ValueError(
                f"mmvp-vlm: the statements of pair {key!r} have patterns {pattern!r} and "
                f"{meta[r2]['pattern']!r}"
            )
        totals[pattern] += 1
        hits[pattern] += bool(ok[r1] and ok[r2])
    out: dict[str, Accuracy] = {"statement": accuracy(ok)}
    out["pair"] = Accuracy(sum(hits.values()), sum(totals.values()))
    out.update({f"pattern/{name}": Accuracy(hits[name], totals[name]) for name in totals})
    return out
