"""A training progress bar that counts optimiser steps when the run is bounded by ``max_steps``."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import TQDMProgressBar


class StepProgressBar(TQDMProgressBar):
    """``TQDMProgressBar`` whose training bar runs from 0 to ``trainer.max_steps`` across epochs (``step
    k/N`` with the ETA of the whole run) when ``max_steps`` is set; epoch-bounded runs keep Lightning's bar.

    Args:
        refresh_rate: update the bar every this many batches.
    """

    def __init__(self, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate=refresh_rate)

    @staticmethod
    def _steps(trainer: pl.Trainer) -> int | None:
        return trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None

    def on_train_epoch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        steps = self._steps(trainer)
        if steps is None:
            return super().on_train_epoch_start(trainer, *args)
        bar = self.train_progress_bar
        if bar.total != steps:  # once per run: the bar spans every epoch
            bar.reset(total=steps)
            bar.initial = 0
        bar.n = trainer.global_step
        bar.set_description("step")
        bar.refresh()
        return None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if self._steps(trainer) is None:
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        bar = self.train_progress_bar
        if bar is not None and self._should_update(trainer.global_step, bar.total):
            bar.n = trainer.global_step
            bar.set_postfix(self.get_metrics(trainer, pl_module))
            bar.refresh()
        return None
