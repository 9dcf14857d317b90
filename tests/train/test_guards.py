"""The loss guard: a non-finite loss stops the run naming step and batch, or skips exactly that step."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.train.clip_finetune import CLIPFineTune
from vlmrobust.train.guards import LossGuard, NonFiniteLossError


class PoisonedAt(CLIPFineTune):
    """CLIPFineTune whose loss is NaN at the given batch indices; records the weights seen at each step."""

    def __init__(self, poisoned: set[int], **kwargs) -> None:
        super().__init__(**kwargs)
        self.poisoned, self.seen = poisoned, []

    def compute_loss(self, batch):
        self.seen.append(self.scorer.model.text_projection.detach().clone())
        loss = super().compute_loss(batch)
        return loss * float("nan") if len(self.seen) - 1 in self.poisoned else loss


def _fit(module: CLIPFineTune, steps: int, tmp_path) -> pl.Trainer:
    trainer = pl.Trainer(accelerator="cpu", max_steps=steps, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                         default_root_dir=tmp_path)  # fmt: skip
    trainer.fit(module, datamodule=WorldDataModule(seed=0, train_size=64, eval_size=8, batch_size=8))
    return trainer


def test_stop_names_the_step_and_batch(tmp_path) -> None:
    module = PoisonedAt({2}, model_seed=0)
    with pytest.raises(
        NonFiniteLossError, match=r"non-finite training loss nan at step 2 \(batch 2 of epoch 0\)"
    ):
        _fit(module, 4, tmp_path)


def test_skip_leaves_the_weights_of_that_step_untouched_and_counts_it(tmp_path) -> None:
    module = PoisonedAt({1}, model_seed=0, on_nonfinite="skip", lr=1e-2, warmup_steps=0)
    trainer = _fit(module, 4, tmp_path)
    assert module.guard.skipped == 1 and trainer.global_step == 4  # a skipped step still counts
    seen = module.seen
    assert len(seen) == 4
    assert not torch.equal(seen[0], seen[1])  # batch 0 stepped
    assert torch.equal(seen[1], seen[2])  # batch 1 (NaN) did not
    assert not torch.equal(seen[2], seen[3])
    assert all(torch.isfinite(p).all() for p in module.parameters())


def test_repeated_skips_stop(tmp_path) -> None:
    module = PoisonedAt({0, 1, 2}, model_seed=0, on_nonfinite="skip")
    module.guard = LossGuard("skip", max_consecutive_skips=3)
    with pytest.raises(NonFiniteLossError, match="3 non-finite training losses in a row"):
        _fit(module, 5, tmp_path)
    with pytest.raises(ValueError, match="unknown on_nonfinite 'ignore'"):
        LossGuard("ignore")  # type: ignore[arg-type]
