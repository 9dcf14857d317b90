"""Build K-way multiple-choice questions from a labelled eval set.

Each question has one correct class and K-1 distractors drawn by strategy:

* ``random``: uniform over the set's other classes;
* ``hierarchy``: the classes nearest to the answer by WordNet tree distance (text obfuscation);
* ``visual``: the classes whose image-feature centroids are nearest to the answer's (visual obfuscation);
* ``confusion``: the classes a category-selection model ranked highest among the wrong ones for that very
  image (holistic_clip_robustness §IX; ``vlmrobust.data.mcq.confusion``), so every image has its own list.

The correct class is the image's official label; for a multi-label image (clean / ReaL val labels) it is
the official label when that is in the image's label set, else the first proposed label, and every question
records which (``answer_source``). Distractors never include any correct label of a multi-label image. Which images are asked depends only
on the seed (not the strategy), so the three benchmarks of one seed ask about the same images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.imagenet.samples import ImageSet
from vlmrobust.data.mcq.confusion import Rankings, confusion_distractors
from vlmrobust.data.mcq.distance import imagenet_tree_distance
from vlmrobust.data.mcq.distractors import NearestClasses, UniformStream, random_distractors

Strategy = Literal["random", "hierarchy", "visual", "confusion"]
STRATEGIES: tuple[str, ...] = ("random", "hierarchy", "visual", "confusion")
#: Version 2 added ``answer_source``; version 1 files (answer = first label unconditionally) are refused.
FORMAT_VERSION = "vlmrobust-mcq/2"
#: How a question's correct class was chosen: the official label, or (a multi-label image whose label set
#: lacks its official label) the first proposed label.
AnswerSource = Literal["official", "first_proposed"]
ANSWER_SOURCES: tuple[str, ...] = ("official", "first_proposed")


@dataclass(frozen=True)
class Question:
    """One multiple-choice question (one row of a benchmark file).

    Attributes:
        question_id: ``"<eval_set>/<strategy>/<seed>/<n>"``, unique within a file.
        eval_set: name of the eval set the image comes from.
        sample_id: the image's stable sample id (as stored in the results DB).
        image: path of the image file.
        border_crop: pixels to crop from every side when loading (2 for ObjectNet).
        options: class indices (into the eval set's classes) in the order shown.
        option_names: class names of ``options``.
        answer: position of the correct class in ``options``.
        labels: every correct class of the image (several for multi-label images), the answer first.
        answer_source: ``"official"`` (the answer is the image's official label) or ``"first_proposed"``
            (a multi-label image whose label set lacks its official label: the first proposed label).
        strategy: distractor strategy.
        seed: seed the question was built with.
        format_version: benchmark file format version.
    """

    question_id: str
    eval_set: str
    sample_id: str
    image: str
    border_crop: int
    options: tuple[int, ...]
    option_names: tuple[str, ...]
    answer: int
    labels: tuple[int, ...]
    answer_source: str
    strategy: str
    seed: int
    format_version: str = FORMAT_VERSION

    @property
    def answer_class(self) -> int:
        """Class index of the correct option."""
        return self.options[self.answer]


def answer_first(labels: Sequence[int], official: int) -> tuple[tuple[int, ...], AnswerSource]:
    """An image's correct classes with the MCQ answer first, and how the answer was chosen.

    The answer is the official label when it is among ``labels`` (moved first, the others kept in order),
    else the first proposed label (``labels`` unchanged).
    """
    labels = tuple(labels)
    if official in labels:
        return (official, *(c for c in labels if c != official)), "official"
    return labels, "first_proposed"


@dataclass(frozen=True)
class MCQBenchmark:
    """Questions built from one eval set, plus their statistics (see :func:`question_stats`)."""

    eval_set: str
    class_names: tuple[str, ...]
    questions: tuple[Question, ...]
    stats: dict[str, Any] = field(default_factory=dict)


def build_options(
    labels: Sequence[Sequence[int]],
    num_classes: int,
    strategy: Strategy = "hierarchy",
    *,
    num_options: int = 5,
    num_questions: int | None = 5000,
    seed: int = 0,
    distance: np.ndarray | None = None,
    rankings: Sequence[Sequence[int] | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick images and options (the array core of :func:`build_mcq`, independent of any dataset).

    Args:
        labels: correct classes of each sample (first = the answer).
        num_classes: number of classes C of the eval set.
        strategy: ``"random"``, ``"hierarchy"``, ``"visual"`` or ``"confusion"``.
        num_options: K, options per question.
        num_questions: N; ``None`` (or N >= eligible samples) asks every eligible sample in order.
        seed: seeds both which samples are asked and the distractors / option order.
        distance: ``(C, C)`` class distance for ``hierarchy`` (tree) and ``visual`` (centroid) strategies.
        rankings: for ``confusion``, each sample's classes as a selection model ranked them (best first;
            ``None`` for a sample it did not score, which is then not asked).

    Returns:
        ``(sample_index (N,), options (N, K), answer (N,))``: the samples asked (ascending), each
        question's class indices in shown order, and the position of the answer.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}. {did_you_mean(strategy, STRATEGIES, 'strategies')}")
    if num_options < 2:
        raise ValueError(f"num_options must be >= 2, got {num_options}")
    if strategy in ("hierarchy", "visual") and distance is None:
        raise ValueError(f"strategy {strategy!r} needs a (C, C) distance matrix")
    if (strategy == "confusion") != (rankings is not None):
        raise ValueError(
            "rankings= (a selection model's per-sample class rankings) go with strategy 'confusion' only"
        )
    if rankings is not None and len(rankings) != len(labels):
        raise ValueError(f"{len(rankings)} rankings for {len(labels)} samples")
    k = num_options - 1
    eligible = np.array(
        [i for i, ls in enumerate(labels)
         if num_classes - len(set(ls)) >= k and (rankings is None or rankings[i] is not None)],
        dtype=np.int64,
    )  # fmt: skip
    if len(eligible) == 0:
        raise ValueError(f"no sample leaves {k} distractor classes among {num_classes} classes")
    select_rng = np.random.default_rng([seed, 0])  # which samples: shared by all strategies of a seed
    option_rng = np.random.default_rng([seed, 1])  # option order
    draw = UniformStream(np.random.default_rng([seed, 2]))  # distractors
    if num_questions is not None and num_questions < len(eligible):
        eligible = np.sort(select_rng.choice(eligible, size=num_questions, replace=False))
    nearest = NearestClasses(distance) if strategy in ("hierarchy", "visual") else None
    n = len(eligible)
    rows = []
    for i in eligible.tolist():
        ls = labels[i]
        if rankings is not None:
            rows.append([ls[0], *confusion_distractors(rankings[i], ls, k, f"sample {i}")])
        elif nearest is None:
            rows.append([ls[0], *random_distractors(num_classes, ls, k, draw)])
        else:
            rows.append([ls[0], *nearest(ls[0], ls, k, draw)])
    chosen = np.array(rows, dtype=np.int64).reshape(n, num_options)  # (N, K): answer first, then distractors
    perm = option_rng.random((n, num_options)).argsort(axis=1)  # (N, K) a uniform shuffle per row
    options = np.take_along_axis(chosen, perm, axis=1)
    answer = np.argmax(perm == 0, axis=1)  # where column 0 (the answer) went
    return eligible, options, answer


def question_stats(
    labels: Sequence[Sequence[int]],
    sample_index: np.ndarray,
    options: np.ndarray,
    answer: np.ndarray,
    distances: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Mean distance of the distractors to the answer, vs its expectation under ``random`` distractors.

    For every named ``(C, C)`` distance (e.g. ``"tree"``, ``"visual"``): ``mean_<name>_distance`` is
    the mean over questions of the mean distance from the answer to its distractors;
    ``random_<name>_distance`` the exact expectation of that number for uniform distractors over
    the classes that are not a correct label (computed, not sampled). Non-finite distances (classes
    without a visual centroid) are left out of both. Also counts answer positions.
    """
    n, num_options = options.shape
    answers = options[np.arange(n), answer]  # (N,)
    is_distractor = np.ones_like(options, dtype=bool)
    is_distractor[np.arange(n), answer] = False
    stats: dict[str, Any] = {
        "num_questions": int(n),
        "num_options": int(num_options),
        "answer_position_counts": np.bincount(answer, minlength=num_options).tolist(),
    }
    for name, dist in distances.items():
        dist = np.asarray(dist, dtype=np.float64)
        finite = np.isfinite(dist)  # classes without a centroid have no visual distance: left out
        d = dist[answers[:, None], options]  # (N, K) distance answer -> each option
        use = is_distractor & np.isfinite(d)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(use, d, 0.0).sum(axis=1) / use.sum(axis=1)
        row_sum = np.where(finite, dist, 0.0).sum(axis=1)  # (C,) total finite distance from each class
        row_count = finite.sum(axis=1)  # (C,)
        expected = np.empty(n)
        for row, (i, a) in enumerate(zip(sample_index.tolist(), answers.tolist(), strict=True)):
            ls = [c for c in set(labels[i]) if finite[a, c]]
            left = row_count[a] - len(ls)
            expected[row] = (row_sum[a] - sum(float(dist[a, c]) for c in ls)) / left if left else np.nan
        stats[f"mean_{name}_distance"] = float(np.nanmean(mean))
        stats[f"random_{name}_distance"] = float(np.nanmean(expected))
    return stats


def build_mcq_from_samples(
    eval_set: str,
    class_names: Sequence[str],
    samples: Sequence[tuple[str, str, tuple[int, ...]]],
    strategy: Strategy = "hierarchy",
    *,
    tree_distance: np.ndarray,
    centroids_distance: np.ndarray | None = None,
    num_options: int = 5,
    num_questions: int | None = 5000,
    seed: int = 0,
    border_crop: int = 0,
    answer_sources: Sequence[AnswerSource] | None = None,
    rankings: Rankings | None = None,
) -> MCQBenchmark:
    """Build a K-way MCQ benchmark from ``(sample_id, image reference, labels)`` triples of any eval set.

    Args:
        eval_set: the eval set's name.
        class_names: its class names in label order.
        samples: ``(sample_id, image path or reference, correct labels)``; the first label is the answer.
        strategy: ``"random"``, ``"hierarchy"`` or ``"visual"``.
        tree_distance: ``(C, C)`` tree distance (drives ``hierarchy``; reported in the stats).
        centroids_distance: ``(C, C)`` centroid distance; required for ``visual``.
        num_options: K, options per question.
        num_questions: N questions (``None`` = every sample).
        seed: seeds the sample selection, distractors and option order.
        border_crop: pixels to crop per side when the images are loaded (recorded in every question).
        answer_sources: how each sample's first label was chosen (recorded in its question); default
            ``"official"`` for every sample (single-label sets).
        rankings: for ``confusion``, the selection model's class ranking by sample id
            (``confusion.read_rankings``); samples it did not score are not asked.
    """
    if answer_sources is not None and len(answer_sources) != len(samples):
        raise ValueError(f"{len(answer_sources)} answer_sources for {len(samples)} samples")
    bad = sorted(set(answer_sources or ()) - set(ANSWER_SOURCES))
    if bad:
        raise ValueError(f"unknown answer source {bad[0]!r}; valid: {', '.join(ANSWER_SOURCES)}")
    if strategy == "visual" and centroids_distance is None:
        raise ValueError("strategy 'visual' needs centroids_distance= (from centroids.centroid_distance)")
    labels = [ls for _, _, ls in samples]
    distance = centroids_distance if strategy == "visual" else tree_distance
    ranked = None if rankings is None else [rankings.get(sample_id) for sample_id, _, _ in samples]
    index, options, answer = build_options(
        labels, len(class_names), strategy, num_options=num_options, num_questions=num_questions, seed=seed,
        distance=distance, rankings=ranked,
    )  # fmt: skip
    questions = []
    for q, (i, opts, ans) in enumerate(zip(index.tolist(), options.tolist(), answer.tolist(), strict=True)):
        sample_id, image, ls = samples[i]
        questions.append(
            Question(
                question_id=f"{eval_set}/{strategy}/{seed}/{q}",
                eval_set=eval_set,
                sample_id=sample_id,
                image=image,
                border_crop=border_crop,
                options=tuple(opts),
                option_names=tuple(class_names[c] for c in opts),
                answer=ans,
                labels=tuple(ls),
                answer_source="official" if answer_sources is None else answer_sources[i],
                strategy=strategy,
                seed=seed,
            )
        )
    distances = {"tree": tree_distance}
    if centroids_distance is not None:
        distances["visual"] = centroids_distance
    stats = {
        "format_version": FORMAT_VERSION,
        "eval_set": eval_set,
        "strategy": strategy,
        "seed": seed,
        "num_classes": len(class_names),
        "num_samples": len(samples),
        "first_proposed_answers": sum(q.answer_source == "first_proposed" for q in questions),
        **question_stats(labels, index, options, answer, distances),
    }
    return MCQBenchmark(eval_set, tuple(class_names), tuple(questions), stats)


def build_mcq(
    image_set: ImageSet,
    strategy: Strategy = "hierarchy",
    *,
    num_options: int = 5,
    num_questions: int | None = 5000,
    seed: int = 0,
    tree_distance: np.ndarray | None = None,
    centroids_distance: np.ndarray | None = None,
    rankings: Rankings | None = None,
) -> MCQBenchmark:
    """Build a K-way MCQ benchmark from an indexed ImageNet-family set, on that set's own classes.

    Args:
        image_set: the eval set (any reader; multi-label sets exclude every correct label).
        strategy: ``"random"``, ``"hierarchy"`` or ``"visual"``.
        num_options: K, options per question (default 5).
        num_questions: N questions (default 5,000; ``None`` = every image).
        seed: seeds the image selection, distractors and option order.
        tree_distance: ``(C, C)`` tree distance; default WordNet distance of the set's classes.
        centroids_distance: ``(C, C)`` centroid distance (see ``centroids.centroid_distance``);
            required for ``visual``.
        rankings: required for ``confusion``: a selection model's class ranking by sample id
            (``confusion.read_rankings``).

    Returns:
        The questions and stats (mean tree / visual distance of distractors vs random).
    """
    samples, sources = [], []
    for s in image_set:
        labels, source = answer_first(s.labels, s.official_label)
        samples.append((s.sample_id, s.path, labels))
        sources.append(source)
    return build_mcq_from_samples(
        image_set.name,
        image_set.classes.names,
        samples,
        strategy,
        tree_distance=imagenet_tree_distance(image_set.classes) if tree_distance is None else tree_distance,
        centroids_distance=centroids_distance,
        num_options=num_options,
        num_questions=num_questions,
        seed=seed,
        border_crop=image_set.border_crop,
        answer_sources=sources,
        rankings=rankings,
    )
