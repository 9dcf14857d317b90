"""Protocols of image-text scorers (CLIP, SigLIP ...): zero-shot classification and MCQ by option prompts.

Zero-shot classification scores an image against one text head column per class (the prompt ensemble of
the chosen template set). Sets on class subsets are scored on their own classes only (ImageNet-R/-A: the
200 columns); sets whose classes map to several IN-1k classes (ObjectNet) take the argmax over the mapped
IN-1k columns and count it for the class it maps to. Multi-label sets (clean/ReaL labels) count a
prediction as correct when it is in the image's label set. MCQ by prompt picks, per question, the option
whose prompt scores highest (ties to the first option).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import Tensor

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.heads import cached_zero_shot_head, zero_shot_logits
from vlmrobust.eval.metrics import (
    Accuracy,
    check_scores,
    classification_summary,
    multilabel_correct,
    option_choice,
    top1,
)
from vlmrobust.eval.prompts import TemplateSet, templates_for
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue, batch_index
from vlmrobust.models.protocols import ImageTextScorer


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


class _ScorerProtocol(EvalProtocol):
    role = "scorer"
    image_input = "tensor"

    def __init__(self, templates: TemplateSet, head_cache: str | None, batch_size: int) -> None:
        self.templates = templates
        self.head_cache = head_cache
        self.text_batch_size = batch_size
        self._heads: dict[str, Tensor] = {}

    def head(self, model: ImageTextScorer, info: EvalSetInfo) -> Tensor:
        """The set's text head [columns, D] (built in ``prepare``)."""
        if info.name not in self._heads:
            raise RuntimeError(f"{self.key}: prepare(model, info) was not called for {info.name!r}")
        return self._heads[info.name]

    def prepare(self, model: ImageTextScorer, info: EvalSetInfo) -> None:
        templates = templates_for(self.templates, info.templates)
        self._heads[info.name] = cached_zero_shot_head(
            model, info.columns, templates, self.head_cache, self.text_batch_size
        )

    def _logits(self, model: ImageTextScorer, info: EvalSetInfo, batch: dict[str, Any]) -> Tensor:
        head = self.head(model, info)
        images = batch["image"].to(head.device, non_blocking=True)
        with torch.no_grad():
            logits = zero_shot_logits(model, images, head)  # [B, columns]
        check_scores(logits, len(info.columns), info.name)
        return class_scores(logits.float(), info)  # [B, classes]


class ZeroShotClassification(_ScorerProtocol):
    """Zero-shot classification by class prompts (``zeroshot/<templates>``).

    Stores ``top1`` (multi-label aware), ``top5`` (a label among the five best classes; sets of ≥ 5
    classes) and ``per_class_mean`` (mean over classes with samples of their top-1 accuracy).

    Args:
        templates: template set of the class prompts (``dataset``: the eval set's own templates).
        head_cache: folder caching text heads by (model spec, class names, templates); only for models
            whose weights the spec fixes (``None``: no cache).
        text_batch_size: prompts encoded per text forward pass.
    """

    tasks = ("classification",)

    def __init__(
        self,
        templates: TemplateSet = "dataset",  # class-prompt template set
        head_cache: str | None = None,  # folder of cached text heads (frozen models only)
        text_batch_size: int = 256,  # prompts per text forward
    ) -> None:
        super().__init__(templates, head_cache, text_batch_size)

    @property
    def key(self) -> str:
        return f"zeroshot/{self.templates}"

    def predict(self, model: ImageTextScorer, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        scores = self._logits(model, info, batch)
        pred = top1(scores).cpu()
        label = torch.as_tensor(batch["label"], dtype=torch.long).cpu()
        labels = multi_hot(info, batch)
        correct = multilabel_correct(pred, labels) if labels is not None else pred == label
        extra = None
        if scores.shape[1] >= 5:
            # the five best classes, equal scores ranked by lowest index (as top-1 and ``topk_correct``)
            best5 = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :5].cpu()  # [B, 5]
            hit5 = (
                labels.gather(1, best5).any(dim=1) if labels is not None else (best5 == label[:, None]).any(1)
            )
            extra = [{"top5": b.tolist(), "top5_correct": bool(h)} for b, h in zip(best5, hit5, strict=True)]
        return BatchPredictions(batch_index(batch), pred, label, correct, extra)

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        top5 = None
        if len(info.class_names) >= 5:
            top5 = [bool(e["top5_correct"]) for e in records["extra"]]
        summary = classification_summary(
            records["correct"].to_numpy(dtype=bool), records["label"].to_numpy(), len(info.class_names), top5
        )
        return {
            name: MetricValue.of(v) if isinstance(v, Accuracy) else MetricValue(v, len(records))
            for name, v in summary.items()
        }


class MCQByPrompt(_ScorerProtocol):
    """Multiple-choice questions answered by a scorer: the option whose class prompt scores highest
    (``mcq/prompt-<templates>``); stores ``top1`` (= MCQ accuracy) and the option scores per sample.

    Args:
        templates: template set of the option prompts.
        head_cache: folder caching text heads (frozen models only; ``None``: no cache).
        text_batch_size: prompts encoded per text forward pass.
    """

    tasks = ("mcq",)

    def __init__(
        self,
        templates: TemplateSet = "dataset",  # option-prompt template set
        head_cache: str | None = None,  # folder of cached text heads (frozen models only)
        text_batch_size: int = 256,  # prompts per text forward
    ) -> None:
        super().__init__(templates, head_cache, text_batch_size)

    @property
    def key(self) -> str:
        return f"mcq/prompt-{self.templates}"

    def predict(self, model: ImageTextScorer, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        scores = self._logits(model, info, batch)  # [B, classes]
        options = torch.as_tensor(batch["options"], dtype=torch.long).to(scores.device)  # [B, K]
        option_scores = scores.gather(1, options).cpu()  # [B, K]
        choice = option_choice(option_scores)
        answer = torch.as_tensor(batch["answer"], dtype=torch.long).cpu()
        extra = [{"scores": [round(float(v), 6) for v in row]} for row in option_scores]
        return BatchPredictions(batch_index(batch), choice, answer, choice == answer, extra)
