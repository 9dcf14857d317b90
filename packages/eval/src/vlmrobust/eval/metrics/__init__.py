"""Metrics: pure functions over arrays and records (no model code, no I/O).

* :mod:`.accuracy` — exact accuracies (integer counts), per-class accuracy;
* :mod:`.classification` — top-1, top-k, multi-label correctness, ObjectNet-style column collapse, shape checks;
* :mod:`.mcq` — the chosen option, MCQ correctness, classifier-free guidance;
* :mod:`.summary` — the stored classification metrics (``top1``, ``top5``, ``per_class_mean``);
* :mod:`.ood` — OOD-detection scores (MSP, MCM), AUROC and FPR at 95 % TPR;
* :mod:`.calibration` — ECE (15 equal-width bins), NLL, the NLL-minimising temperature;
* :mod:`.compositional` — What'sUp, COCO/GQA-spatial, ARO, hard positives, MMVP, MMVP-VLM: the official tie
  rules, per-sample correctness, the stored benchmark metrics, MMVP's relaxed pair accuracy;
* :mod:`.retrieval` — chunked image-text retrieval ranks (both directions) and recall@K.
"""

from vlmrobust.eval.metrics.accuracy import (
    Accuracy,
    accuracy,
    per_class_accuracy,
    per_class_accuracy_from_correct,
)
from vlmrobust.eval.metrics.calibration import (
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)
from vlmrobust.eval.metrics.classification import (
    check_scores,
    collapse_columns,
    multilabel_correct,
    top1,
    topk_correct,
)
from vlmrobust.eval.metrics.compositional import (
    BENCHMARKS,
    benchmark_metrics,
    choice_correct,
    choice_prediction,
    relaxed_pair_accuracy,
)
from vlmrobust.eval.metrics.mcq import cfg_scores, mcq_correct, option_choice
from vlmrobust.eval.metrics.ood import auroc, fpr_at_tpr, mcm_scores, msp_scores
from vlmrobust.eval.metrics.retrieval import recall_at_k, retrieval_ranks
from vlmrobust.eval.metrics.summary import classification_summary

__all__ = [
    "BENCHMARKS",
    "Accuracy",
    "accuracy",
    "auroc",
    "benchmark_metrics",
    "cfg_scores",
    "check_scores",
    "choice_correct",
    "choice_prediction",
    "classification_summary",
    "collapse_columns",
    "expected_calibration_error",
    "fit_temperature",
    "fpr_at_tpr",
    "mcm_scores",
    "mcq_correct",
    "msp_scores",
    "multilabel_correct",
    "negative_log_likelihood",
    "option_choice",
    "per_class_accuracy",
    "per_class_accuracy_from_correct",
    "recall_at_k",
    "relaxed_pair_accuracy",
    "retrieval_ranks",
    "top1",
    "topk_correct",
]
