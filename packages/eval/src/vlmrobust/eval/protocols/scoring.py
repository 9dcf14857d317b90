"""Scoring rules shared by every protocol that ends in a score per class: classification and MCQ.

A scorer (CLIP prompts) and an embedder (cosine to class texts) both produce ``[B, classes]`` scores; from
there the rules are the same: top-1 (multi-label aware) and top-5 for classification, the best of each
question's options for MCQ. Ties go to the lowest index everywhere.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import Tensor

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.metrics import Accuracy, classification_summary, multilabel_correct, option_choice, top1
from vlmrobust.eval.protocols.base import BatchPredictions, MetricValue, batch_index


def class_scores(column_scores: Tensor, info: EvalSetInfo) -> Tensor:
    """[B, columns] head scores -> [B, classes]: max over the columns of each class (identity without
    ``head_to_class``), so an argmax over classes is the argmax over the mapped columns."""
    if info.head_to_class is None:
        return column_scores
    to_class = torch.as_tensor(info.head_to_class, device=column_scores.device)
    out = column_scores.new_full((column_scores.shape[0], len(info.class_names)), float("-inf"))
    return out.scatter_reduce(1, to_class.expand_as(column_scores), column_scores, reduce="amax")


def multi_hot(info: EvalSetInfo, batch: dict[str, Any]) -> Tensor | None:
    """The batch's ``labels`` [B, C] for a multi-label set (``None`` for a single-label one)."""
    if not info.multi_label:
        return None
    if "labels" not in batch:
        raise KeyError(
            f"{info.name} is multi-label, but its batches carry no 'labels' (multi-hot of every correct class)"
        )
    return torch.as_tensor(batch["labels"]).bool().cpu()


def classify(
    scores: Tensor, info: EvalSetInfo, batch: dict[str, Any], rank_depth: int = 5
) -> BatchPredictions:
    """Top-1 predictions of [B, classes] scores, correct when in the label set (multi-label sets); the five
    best classes and whether one of them is correct in ``extra`` (sets of at least five classes), and with
    ``rank_depth`` > 5 the ``rank_depth`` best classes as ``ranking`` (what confusion distractors read)."""
    scores = scores.cpu()
    pred = top1(scores)
    label = torch.as_tensor(batch["label"], dtype=torch.long).cpu()
    labels = multi_hot(info, batch)
    correct = multilabel_correct(pred, labels) if labels is not None else pred == label
    extra = None
    if scores.shape[1] >= 5:
        best5 = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :5]  # [B, 5]
        hit5 = labels.gather(1, best5).any(dim=1) if labels is not None else (best5 == label[:, None]).any(1)
        extra = [{"top5": b.tolist(), "top5_correct": bool(h)} for b, h in zip(best5, hit5, strict=True)]
        if rank_depth > 5:
            ranked = torch.sort(scores, dim=1, descending=True, stable=True).indices[
                :, :rank_depth
            ]  # [B, depth]
            for e, row in zip(extra, ranked.tolist(), strict=True):
                e["ranking"] = row
    return BatchPredictions(batch_index(batch), pred, label, correct, extra)


def classification_metrics(records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
    """``top1``, ``top5`` (sets of at least five classes) and ``per_class_mean`` of classification records."""
    top5 = [bool(e["top5_correct"]) for e in records["extra"]] if len(info.class_names) >= 5 else None
    summary = classification_summary(
        records["correct"].to_numpy(dtype=bool), records["label"].to_numpy(), len(info.class_names), top5
    )
    return {
        name: MetricValue.of(v) if isinstance(v, Accuracy) else MetricValue(v, len(records))
        for name, v in summary.items()
    }


def choose_option(scores: Tensor, batch: dict[str, Any]) -> BatchPredictions:
    """The best of each question's options from [B, classes] scores; option scores in ``extra``."""
    options = torch.as_tensor(batch["options"], dtype=torch.long).to(scores.device)  # [B, K]
    option_scores = scores.gather(1, options).float().cpu()  # [B, K]
    choice = option_choice(option_scores)
    answer = torch.as_tensor(batch["answer"], dtype=torch.long).cpu()
    extra = [{"scores": [round(float(v), 6) for v in row]} for row in option_scores]
    return BatchPredictions(batch_index(batch), choice, answer, choice == answer, extra)
