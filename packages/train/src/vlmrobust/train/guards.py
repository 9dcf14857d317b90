"""Guards on the training loss: a non-finite loss stops the run naming its step and batch, or (configured)
skips the optimiser step and is counted. Every rank takes the same decision, so DDP never deadlocks on a
rank that skipped."""

from __future__ import annotations

from typing import Literal

import lightning.pytorch as pl
import torch

OnNonFinite = Literal["stop", "skip"]


class NonFiniteLossError(RuntimeError):
    """A training loss was NaN or infinite and the guard was set to stop."""


class LossGuard:
    """Check each training loss before backward.

    Args:
        on_nonfinite: ``stop`` raises ``NonFiniteLossError`` naming the step and batch; ``skip`` returns
            ``None`` for the step and counts it: Lightning skips backward, so no parameter (nor its optimiser
            state) changes, while the step still counts (``global_step`` and the schedule advance).
        max_consecutive_skips: stop anyway after this many skipped steps in a row (a diverged run).
    """

    def __init__(self, on_nonfinite: OnNonFinite = "stop", max_consecutive_skips: int = 10) -> None:
        if on_nonfinite not in ("stop", "skip"):
            raise ValueError(f"unknown on_nonfinite {on_nonfinite!r}; valid: 'stop', 'skip'")
        self.on_nonfinite, self.max_consecutive_skips = on_nonfinite, max_consecutive_skips
        self.skipped = 0  # steps skipped in total
        self._in_a_row = 0

    def __call__(self, module: pl.LightningModule, loss: torch.Tensor, batch_idx: int) -> torch.Tensor | None:
        """``loss`` when every rank's loss is finite, else ``None`` (skip) or an error (stop)."""
        finite = bool(torch.isfinite(loss.detach()).all())
        if module._trainer is not None:  # outside a Trainer there is no strategy
            finite = bool(module.trainer.strategy.reduce_boolean_decision(finite, all=True))
        if finite:
            self._in_a_row = 0
            return loss
        where = f"at step {module.global_step} (batch {batch_idx} of epoch {module.current_epoch})"
        value = loss.detach().float().cpu().tolist()
        if self.on_nonfinite == "stop":
            raise NonFiniteLossError(
                f"non-finite training loss {value} {where} (on this or another rank); lower the learning rate, "
                "check the batch, or set on_nonfinite='skip' to skip such steps"
            )
        self.skipped += 1
        self._in_a_row += 1
        if self._in_a_row >= self.max_consecutive_skips:
            raise NonFiniteLossError(
                f"{self._in_a_row} non-finite training losses in a row, the last {where}: the run diverged"
            )
        return None
