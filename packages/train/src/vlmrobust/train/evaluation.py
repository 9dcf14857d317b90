"""Validation and testing by protocol, shared by every recipe: each of the DataModule's ``eval_sets`` is
answered by the module's ``eval_protocol(info)`` on its ``eval_model()``, and every step returns the
protocol's per-sample ``BatchPredictions`` for ``RobustnessCallback``."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.protocols import BatchPredictions, EvalProtocol


class EvaluatesByProtocol(pl.LightningModule):
    """Base of recipes whose validation and test run the eval protocols; subclasses give ``eval_protocol``
    and ``eval_model``. Protocols are prepared (text heads, class columns) from the current weights at the
    start of every validation and test epoch."""

    _eval_sets: list[EvalSetInfo]

    def eval_protocol(self, info: EvalSetInfo) -> EvalProtocol:
        """The protocol answering ``info`` (raise ``ProtocolError`` for a set the recipe cannot answer)."""
        raise NotImplementedError

    def eval_model(self) -> Any:
        """The model the protocols drive (a scorer, a classifier head …), from the current weights."""
        raise NotImplementedError

    def _eval_start(self) -> None:
        eval_sets = getattr(self.trainer.datamodule, "eval_sets", None)
        if eval_sets is None:
            raise AttributeError(
                f"{type(self).__name__} validation needs a DataModule with `eval_sets` (class names, templates)"
            )
        self._eval_sets = list(eval_sets)
        datasets = list(getattr(self.trainer.datamodule, "eval_datasets", [None] * len(self._eval_sets)))
        for info, dataset in zip(self._eval_sets, datasets, strict=True):
            self.eval_protocol(info).prepare(self.eval_model(), info, dataset)

    def on_validation_epoch_start(self) -> None:
        self._eval_start()

    def on_test_epoch_start(self) -> None:
        self._eval_start()

    def validation_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> BatchPredictions:
        info = self._eval_sets[dataloader_idx]
        return self.eval_protocol(info).predict(self.eval_model(), info, batch)

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> BatchPredictions:
        return self.validation_step(batch, batch_idx, dataloader_idx)
