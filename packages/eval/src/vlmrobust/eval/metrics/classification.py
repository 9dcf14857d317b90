"""Per-sample classification rules on score arrays (torch in, torch out, any device)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def top1(logits: Tensor) -> Tensor:
    """Argmax over the last dimension [N, C] -> [N]; ties go to the lowest index (``torch.argmax``)."""
    return logits.argmax(dim=-1)


def topk_correct(logits: Tensor, labels: Tensor, k: int) -> Tensor:
    """Whether each label is among the ``k`` best classes, bool [N].

    The k best are taken by a stable descending sort, so equal scores rank by lowest index (consistent
    with ``top1``): a label tied with the k-th score counts only if it is among the k lowest-index
    highest scores.

    Args:
        logits: scores [N, C].
        labels: class indices [N].
        k: how many of the best classes count.

    Raises:
        ValueError: ``k`` outside [1, C], or shapes other than [N, C] and [N].
    """
    if logits.ndim != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"top-k needs logits [N, C] and labels [N], got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    num = logits.shape[-1]
    if not 1 <= k <= num:
        raise ValueError(f"top-k needs 1 <= k <= C, got k={k} with C={num} classes")
    order = torch.sort(logits, dim=-1, descending=True, stable=True).indices[:, :k]  # [N, k]
    return (order == labels.to(order.device).reshape(-1, 1)).any(dim=-1)


def multilabel_correct(pred: Tensor, label_sets: Tensor) -> Tensor:
    """Whether each prediction [N] is in its sample's label set [N, C] (bool multi-hot), bool [N]."""
    if label_sets.ndim != 2 or pred.ndim != 1 or label_sets.shape[0] != pred.shape[0]:
        raise ValueError(
            f"pred of shape {tuple(pred.shape)} and label_sets of shape {tuple(label_sets.shape)} do not "
            "match; expected [N] and [N, C]"
        )
    num = label_sets.shape[1]
    if pred.numel() and (pred.min() < 0 or pred.max() >= num):
        raise ValueError(
            f"pred must lie in [0, {num}) (the label_sets' C), got [{int(pred.min())}, {int(pred.max())}]"
        )
    return label_sets.bool().gather(1, pred.long().to(label_sets.device).reshape(-1, 1)).reshape(-1)


def collapse_columns(pred_columns: Tensor, column_to_class: Sequence[int] | Tensor) -> Tensor:
    """Map predicted head columns [N] to the class of each column (many-to-one, e.g. ObjectNet)."""
    table = torch.as_tensor(column_to_class, dtype=torch.long, device=pred_columns.device)
    if pred_columns.numel() and (pred_columns.min() < 0 or pred_columns.max() >= table.numel()):
        raise ValueError(
            f"pred_columns must lie in [0, {table.numel()}) (len(column_to_class)), "
            f"got [{int(pred_columns.min())}, {int(pred_columns.max())}]"
        )
    return table[pred_columns.long()]


def check_scores(scores: Tensor, num: int, what: str) -> None:
    """Raise ``ValueError`` unless ``scores`` is a [B, num] array (``what`` names the eval set)."""
    if scores.ndim != 2 or scores.shape[1] != num:
        raise ValueError(
            f"{what}: got a score array of shape {tuple(scores.shape)} but the eval set has {num} classes "
            "(or options); do the class names match the model's head?"
        )
