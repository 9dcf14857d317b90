"""The protocol of trained classifier heads (``ImageClassifier``: a cross-entropy fine-tuned head, a probe).

A head has its own classes (the training set's). An eval set is answered over its own classes, looked up by
name among the head's: a set on a class subset (ImageNet-R/-A, the world's shifts) reads the subset's
columns only, a set whose classes map to several head columns (ObjectNet, ``head_names``) takes the argmax
over the mapped columns, exactly as zero-shot classification does with its text head. A set with a class the
head does not have is refused, naming the missing classes. MCQ sets pick the option with the highest logit.
Batches carry images (``image``) or, for heads on cached features, the features (``features``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import Tensor

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.metrics import check_scores
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue, ProtocolError
from vlmrobust.eval.protocols.scoring import choose_option, class_scores, classification_metrics, classify
from vlmrobust.models.protocols import ImageClassifier


class HeadClassification(EvalProtocol):
    """Classification (and MCQ) by a trained head's logits (``head/<name>``).

    Stores what zero-shot classification stores (``top1``, ``top5``, ``per_class_mean``) for classification
    sets and ``top1`` (= MCQ accuracy) with the option logits per sample for MCQ sets.

    Args:
        name: what the head is, part of the stored key (``ce``: cross-entropy fine-tuned; ``linear``: probe).
    """

    role = "classifier"
    tasks = ("classification", "mcq")
    image_input = "tensor"

    def __init__(self, name: str = "linear") -> None:  # kind of head, the key's suffix
        self.name = name
        self._columns: dict[str, Tensor] = {}  # eval set -> head column of each of its columns

    @property
    def key(self) -> str:
        return f"head/{self.name}"

    def prepare(self, model: ImageClassifier, info: EvalSetInfo, dataset: Any = None) -> None:
        position = {name: i for i, name in enumerate(model.class_names)}
        missing = [name for name in info.columns if name not in position]
        if missing:
            raise ProtocolError(
                f"{self.key}: the head's {len(position)} classes lack {len(missing)} of {info.name!r}'s: "
                f"{missing[:5]}"
            )
        self._columns[info.name] = torch.tensor([position[name] for name in info.columns])

    def _scores(self, model: ImageClassifier, info: EvalSetInfo, batch: dict[str, Any]) -> Tensor:
        if info.name not in self._columns:
            raise RuntimeError(f"{self.key}: prepare(model, info) was not called for {info.name!r}")
        inputs = batch["features"] if "features" in batch else batch["image"]  # cached features, or images
        with torch.no_grad():
            logits = model.class_logits(inputs)  # [B, C_head]
        check_scores(logits, len(model.class_names), info.name)
        columns = logits.float()[:, self._columns[info.name].to(logits.device)]  # [B, columns]
        return class_scores(columns, info)  # [B, classes]

    def predict(self, model: ImageClassifier, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        scores = self._scores(model, info, batch)
        return (
            classify(scores, info, batch) if info.task == "classification" else choose_option(scores, batch)
        )

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        if info.task == "mcq":
            return super().metrics(records, info)
        return classification_metrics(records, info)
