"""Multiple-choice benchmarks built from labelled eval sets (``vlmrobust build-mcq``).

``build_mcq`` turns an ``ImageSet`` into K-way questions with ``random``, ``hierarchy`` (WordNet tree
distance), ``visual`` (nearest feature centroids) or ``confusion`` (a selection model's most confident wrong
classes per image, ``read_rankings`` from the results store) distractors; ``write_benchmark`` / ``read_benchmark``
store them as versioned JSONL or Parquet; ``sample_size`` holds the accuracy-vs-N bootstrap analysis.
"""

from vlmrobust.data.mcq.builder import (
    ANSWER_SOURCES,
    FORMAT_VERSION,
    STRATEGIES,
    AnswerSource,
    MCQBenchmark,
    Question,
    Strategy,
    answer_first,
    build_mcq,
    build_mcq_from_samples,
    build_options,
    question_stats,
)
from vlmrobust.data.mcq.centroids import centroid_distance, class_centroids, encode_centroids
from vlmrobust.data.mcq.confusion import ConfusionSource, confusion_distractors, read_rankings
from vlmrobust.data.mcq.distance import (
    ancestor_distance_matrix,
    imagenet_tree_distance,
    in1k_tree_distance,
    world_tree_distance,
)
from vlmrobust.data.mcq.distractors import NearestClasses, UniformStream, random_distractors
from vlmrobust.data.mcq.io import (
    BenchmarkFormatError,
    benchmark_stem,
    read_benchmark,
    save_benchmark,
    write_benchmark,
    write_stats,
)
from vlmrobust.data.mcq.sample_size import accuracy_vs_sample_size, sample_size_table

__all__ = [
    "ANSWER_SOURCES",
    "FORMAT_VERSION",
    "STRATEGIES",
    "AnswerSource",
    "BenchmarkFormatError",
    "ConfusionSource",
    "MCQBenchmark",
    "NearestClasses",
    "Question",
    "Strategy",
    "UniformStream",
    "accuracy_vs_sample_size",
    "ancestor_distance_matrix",
    "answer_first",
    "benchmark_stem",
    "build_mcq",
    "build_mcq_from_samples",
    "build_options",
    "centroid_distance",
    "class_centroids",
    "confusion_distractors",
    "encode_centroids",
    "imagenet_tree_distance",
    "in1k_tree_distance",
    "question_stats",
    "random_distractors",
    "read_benchmark",
    "read_rankings",
    "sample_size_table",
    "save_benchmark",
    "world_tree_distance",
    "write_benchmark",
    "write_stats",
]
