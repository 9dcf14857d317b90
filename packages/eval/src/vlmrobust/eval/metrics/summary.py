"""The stored classification metrics of one eval set, from per-sample correctness."""

from __future__ import annotations

from numpy.typing import ArrayLike

from vlmrobust.eval.metrics.accuracy import Accuracy, accuracy, per_class_accuracy_from_correct


def classification_summary(
    correct: ArrayLike,
    labels: ArrayLike,
    num_classes: int,
    top5_correct: ArrayLike | None = None,
) -> dict[str, Accuracy | float]:
    """The metrics stored for a classification set, under their stored names.

    Args:
        correct: per-sample top-1 correctness [N] (multi-label aware when the caller made it so).
        labels: the reference class of each sample [N] (grouping for the per-class mean).
        num_classes: number of classes of the eval set.
        top5_correct: per-sample top-5 correctness [N] (``None``: no ``top5``).

    Returns:
        ``top1`` (:class:`Accuracy`), ``top5`` (:class:`Accuracy`, only when ``top5_correct`` is given)
        and ``per_class_mean`` (mean over classes with samples of their top-1 accuracy; ``nan`` if none).
    """
    top1 = accuracy(correct)
    out: dict[str, Accuracy | float] = {"top1": top1}
    if top5_correct is not None:
        top5 = accuracy(top5_correct)
        if top5.n != top1.n:
            raise ValueError(f"top5_correct has {top5.n} entries but correct has {top1.n}")
        out["top5"] = top5
    out["per_class_mean"] = per_class_accuracy_from_correct(correct, labels, num_classes)[1]
    return out
