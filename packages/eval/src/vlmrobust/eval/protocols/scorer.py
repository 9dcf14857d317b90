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
from vlmrobust.eval.metrics import check_scores
from vlmrobust.eval.prompts import TemplateSet, templates_for
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue
from vlmrobust.eval.protocols.scoring import choose_option, class_scores, classification_metrics, classify
from vlmrobust.models.protocols import ImageTextScorer


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

    def prepare(self, model: ImageTextScorer, info: EvalSetInfo, dataset: Any = None) -> None:
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
        rank_depth: classes stored per sample, best first (``ranking``, beyond the always stored ``top5``)
            for model-confusion distractors that need more than five (many options or labels).
    """

    tasks = ("classification",)

    def __init__(
        self,
        templates: TemplateSet = "dataset",  # class-prompt template set
        head_cache: str | None = None,  # folder of cached text heads (frozen models only)
        text_batch_size: int = 256,  # prompts per text forward
        rank_depth: int = 5,  # classes stored per sample (> 5 adds "ranking" to the records)
    ) -> None:
        super().__init__(templates, head_cache, text_batch_size)
        self.rank_depth = rank_depth

    @property
    def key(self) -> str:
        return f"zeroshot/{self.templates}"

    def predict(self, model: ImageTextScorer, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        return classify(self._logits(model, info, batch), info, batch, self.rank_depth)

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        return classification_metrics(records, info)


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
        return choose_option(self._logits(model, info, batch), batch)
