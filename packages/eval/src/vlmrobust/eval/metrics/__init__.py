"""Metrics: pure functions over arrays and records (no model code, no I/O).

* :mod:`.accuracy` — exact accuracies (integer counts), per-class accuracy;
* :mod:`.classification` — top-1, top-k, multi-label correctness, ObjectNet-style column collapse, shape checks;
* :mod:`.mcq` — the chosen option, MCQ correctness, classifier-free guidance;
* :mod:`.summary` — the stored classification metrics (``top1``, ``top5``, ``per_class_mean``);
* :mod:`.ood` — OOD-detection scores (MSP, MCM), AUROC and FPR at 95 % TPR;
* :mod:`.calibration` — ECE (15 equal-width bins), NLL, the NLL-minimising temperature.
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
from vlmrobust.eval.metrics.mcq import cfg_scores, mcq_correct, option_choice
from vlmrobust.eval.metrics.ood import auroc, fpr_at_tpr, mcm_scores, msp_scores
from vlmrobust.eval.metrics.summary import classification_summary

__all__ = [
    "Accuracy",
    "accuracy",
    "auroc",
    "cfg_scores",
    "check_scores",
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
    "top1",
    "topk_correct",
]
