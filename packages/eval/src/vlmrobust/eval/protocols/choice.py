"""What every protocol of the compositional benchmarks shares: per-sample records and the benchmark's cells.

A ``captions`` or ``images`` set (``vlmrobust.data.choice``) is answered with one score per option (a
scorer's image-text cosine, a VLM's caption likelihood or P(Yes)) or with a generated answer. Either way
the prediction follows the benchmark's official tie rule (``choice_prediction`` / ``choice_correct`` of
``vlmrobust.eval.metrics.compositional``), the sample's ``meta`` (object pair, relation, MMVP pair,
pattern ...) and option scores are stored per sample, and ``metrics`` reduces the stored records with
``benchmark_metrics`` — so the runner and the training callbacks store the same cells.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.metrics import Accuracy, benchmark_metrics, choice_correct, choice_prediction
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue, batch_index

log = logging.getLogger(__name__)

#: How option scores become the match strengths of MMVP's relaxed pair rule (higher = better match).
Strength = Literal["cosine", "loglik"]


class ChoiceProtocol(EvalProtocol):
    """Base of protocols on ``captions`` / ``images`` sets (see the module docstring).

    Subclasses set ``strength`` when their scores support MMVP's relaxed pair evaluation: ``cosine``
    (scores are cosines, used as they are) or ``loglik`` (scores are mean log-probabilities; strength =
    exp(score), the inverse perplexity).
    """

    tasks = ("captions", "images")
    strength: Strength | None = None  # a class default; a subclass may set it per instance

    def scored(self, info: EvalSetInfo, batch: dict[str, Any], scores: Tensor) -> BatchPredictions:
        """Predictions from option scores [B, K] under the benchmark's tie rule; scores and meta in ``extra``."""
        values = scores.detach().float().cpu().numpy()
        answer = np.asarray(torch.as_tensor(batch["answer"]).tolist(), dtype=np.int64)
        pred = choice_prediction(info.benchmark, values)
        correct = choice_correct(info.benchmark, values, answer)
        extra = [
            {"scores": [round(float(v), 7) for v in row], "meta": meta}
            for row, meta in zip(values, batch["meta"], strict=True)
        ]
        return BatchPredictions(
            batch_index(batch),
            torch.as_tensor(pred),
            torch.as_tensor(answer),
            torch.as_tensor(correct),
            extra,
        )

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        extras = list(records["extra"])
        scores = (
            np.asarray([e["scores"] for e in extras], dtype=np.float64) if "scores" in extras[0] else None
        )
        strengths = None
        if scores is not None and info.benchmark == "mmvp" and self.strength is not None:
            strengths = scores if self.strength == "cosine" else np.exp(scores)
            if self.strength == "cosine" and (scores <= 0).any():  # the ratio rule needs positive strengths
                log.warning("%s: %s: %d non-positive cosines; the relaxed pair rule (pair_relaxed) is not "
                            "defined for them and is not stored", self.key, info.name, int((scores <= 0).sum()))  # fmt: skip
                strengths = None
        out = benchmark_metrics(
            info.benchmark,
            records["correct"].to_numpy(dtype=bool),
            [e["meta"] for e in extras],
            scores=scores,
            answer=records["label"].to_numpy(),
            strengths=strengths,
            **self.metric_options(info),
        )
        return {k: MetricValue.of(v) if isinstance(v, Accuracy) else MetricValue(float(v), len(records))
                for k, v in out.items()}  # fmt: skip

    def metric_options(self, info: EvalSetInfo) -> dict[str, Any]:
        """Benchmark options of ``benchmark_metrics``: ARO VG-Relation's excluded symmetric relations."""
        if info.benchmark == "aro-relation":
            from vlmrobust.data.aro import SYMMETRIC_RELATIONS

            return {"symmetric": SYMMETRIC_RELATIONS}
        return {}


def batch_texts(batch: dict[str, Any]) -> list[list[str]]:
    """The caption options of each item of a ``captions`` batch."""
    return [list(t) for t in batch["texts"]]
