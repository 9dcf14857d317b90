"""The contract of an evaluation protocol: how one kind of model answers one kind of eval set.

A protocol is configured by its constructor (the config schema), knows the model role it drives
(``ImageTextScorer``, ``GenerativeVLM`` or ``EmbeddingModel``) and the eval-set tasks it can run, and has a
``key`` under which its numbers are stored. ``prepare`` runs once per (model, eval set) (class heads, cached
option texts), ``predict`` turns one batch into per-sample predictions, and ``metrics`` reduces the stored
per-sample records of a whole set to the cells it writes. The runner (``vlmrobust eval``) and the
``RobustnessCallback`` both call these three, so both store the same numbers for the same model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pandas as pd
import torch
from torch import Tensor

from vlmrobust.data.evalsets import EvalSetInfo, Task
from vlmrobust.eval.metrics import Accuracy, accuracy

Role = Literal["scorer", "vlm", "embedder", "classifier"]
ImageInput = Literal["tensor", "pil"]


class ProtocolError(ValueError):
    """A protocol asked to run a model role or an eval-set task it cannot run."""


@dataclass
class BatchPredictions:
    """Per-sample predictions of one batch.

    Attributes:
        index: dataset positions [B] (long).
        pred: the prediction [B] (long): a class index for classification, an option position for MCQ,
            ``-1`` when a generated answer could not be parsed.
        label: the reference [B] (long): class index (classification) or answer position (MCQ).
        correct: whether each prediction counts as correct [B] (bool).
        extra: per-sample JSON-able details (option scores, raw generation, parse status, top-5 ...).
    """

    index: Tensor
    pred: Tensor
    label: Tensor
    correct: Tensor
    extra: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        n = self.index.shape[0]
        for name in ("pred", "label", "correct"):
            if getattr(self, name).shape != (n,):
                raise ValueError(
                    f"BatchPredictions.{name} has shape {tuple(getattr(self, name).shape)}, expected ({n},)"
                )
        if self.extra is not None and len(self.extra) != n:
            raise ValueError(f"BatchPredictions.extra has {len(self.extra)} entries for {n} samples")


@dataclass
class MetricValue:
    """One stored metric: its value and the sample count behind it."""

    value: float
    n: int | None
    extra: dict[str, Any] | None = field(default=None)

    @classmethod
    def of(cls, acc: Accuracy) -> MetricValue:
        """From exact counts."""
        return cls(acc.value, acc.n, {"correct": acc.correct})


class EvalProtocol(ABC):
    """Base class of evaluation protocols (see the module docstring).

    Subclasses set ``role``, ``tasks`` and ``image_input`` and implement ``key``, ``predict``; most also
    override ``prepare`` and ``metrics``.
    """

    role: ClassVar[Role]
    tasks: ClassVar[tuple[Task, ...]]
    image_input: ClassVar[ImageInput] = "tensor"

    @property
    @abstractmethod
    def key(self) -> str:
        """The protocol key of the stored cells, e.g. ``zeroshot/openai80`` or ``mcq/likelihood-mean``."""

    def check(self, role: Role, info: EvalSetInfo) -> None:
        """Raise ``ProtocolError`` naming what this protocol supports unless it can run ``role`` on ``info``."""
        if role != self.role:
            raise ProtocolError(
                f"protocol {self.key!r} runs {self.role} models, not a {role}; protocols for a {role}: "
                f"{', '.join(protocols_for_role(role))}"
            )
        if info.task not in self.tasks:
            raise ProtocolError(
                f"protocol {self.key!r} runs {'/'.join(self.tasks)} sets; {info.name!r} is a {info.task} set"
            )

    def supports(self, role: Role, info: EvalSetInfo) -> bool:
        """Whether ``check`` passes."""
        try:
            self.check(role, info)
        except ProtocolError:
            return False
        return True

    def image_transform(self, model: Any) -> Callable[[Any], Any] | None:
        """The image transform of the eval dataset: the scorer's preprocessing, or ``None`` (PIL images)."""
        return model.preprocess if self.image_input == "tensor" else None

    def prepare(self, model: Any, info: EvalSetInfo, dataset: Any = None) -> None:  # noqa: B027 (optional hook)
        """Per (model, eval set) set-up before the first batch (default: nothing); ``dataset`` is the set's
        dataset (with the protocol's image transform) for protocols that need the whole set (retrieval)."""

    @abstractmethod
    def predict(self, model: Any, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        """Predictions for one batch (after ``prepare(model, info)``)."""

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        """Cells of one eval set from its per-sample records (columns ``label, pred, correct, extra``)."""
        return {"top1": MetricValue.of(accuracy(records["correct"].to_numpy(dtype=bool)))}


def protocols_for_role(role: Role) -> list[str]:
    """Names of the registered protocols that drive ``role`` models."""
    from vlmrobust.eval.protocols.registry import PROTOCOLS

    return [name for name, cls in PROTOCOLS.items() if cls.role == role]


def batch_index(batch: dict[str, Any]) -> Tensor:
    """The batch's dataset positions as a long tensor."""
    return torch.as_tensor(batch["index"], dtype=torch.long)
