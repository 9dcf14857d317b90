"""Metrics: pure functions over arrays and records (no model code, no I/O).

* :mod:`.accuracy` — exact accuracies (integer counts), per-class accuracy;
* :mod:`.classification` — top-1, top-k, multi-label correctness, ObjectNet-style column collapse, shape checks;
* :mod:`.mcq` — the chosen option, MCQ correctness, classifier-free guidance;
* :mod:`.summary` — the stored classification metrics (``top1``, ``top5``, ``per_class_mean``).
"""

from vlmrobust.eval.metrics.accuracy import (
    Accuracy,
    accuracy,
    per_class_accuracy,
    per_class_accuracy_from_correct,
)
from vlmrobust.eval.metrics.classification import (
    check_scores,
    collapse_columns,
    multilabel_correct,
    top1,
    topk_correct,
)
from vlmrobust.eval.metrics.mcq import cfg_scores, mcq_correct, option_choice
from vlmrobust.eval.metrics.summary import classification_summary

__all__ = [
    "Accuracy",
    "accuracy",
    "cfg_scores",
    "check_scores",
    "classification_summary",
    "collapse_columns",
    "mcq_correct",
    "multilabel_correct",
    "option_choice",
    "per_class_accuracy",
    "per_class_accuracy_from_correct",
    "top1",
    "topk_correct",
]
