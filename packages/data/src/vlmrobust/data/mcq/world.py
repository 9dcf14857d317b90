"""MCQ benchmarks on the procedural world: its eval sets asked with the shape-family hierarchy.

Image references are the world's sample ids (``world/<domain>/<split>/<i>``); an image is regenerated
from the world seed, so the question file records ``world_seed`` and ``image_size`` in its stats.
"""

from __future__ import annotations

from vlmrobust.data.mcq.builder import MCQBenchmark, Strategy, build_mcq_from_samples
from vlmrobust.data.mcq.distance import world_tree_distance
from vlmrobust.data.world.datasets import LabelledDataset


def build_world_mcq(
    dataset: LabelledDataset,
    strategy: Strategy = "hierarchy",
    *,
    num_options: int = 5,
    num_questions: int | None = None,
    seed: int = 0,
) -> MCQBenchmark:
    """K-way questions over a world eval set (no image is rendered: labels come from the index).

    Args:
        dataset: a labelled world dataset (any domain and split).
        strategy: ``"random"`` or ``"hierarchy"`` (siblings in the shape family first).
        num_options: K, options per question.
        num_questions: N questions (``None`` = every sample).
        seed: seeds the sample selection, distractors and option order.
    """
    if strategy == "visual":
        raise ValueError("visual distractors need image features: use build_mcq_from_samples with centroids")
    world = dataset.world
    samples = [(dataset.sample_id(i), dataset.sample_id(i), (world.label(i),)) for i in range(len(dataset))]
    bench = build_mcq_from_samples(
        f"world/{dataset.domain}",
        world.class_names,
        samples,
        strategy,
        tree_distance=world_tree_distance(),
        num_options=num_options,
        num_questions=num_questions,
        seed=seed,
    )
    bench.stats.update(world_seed=world.seed, image_size=world.image_size)
    return bench
