"""Gradient accumulation through CLIPFineTune: the early zero_grad (before the forward, to free the old
gradients) happens only at the start of an accumulation window, so accumulated gradients are the mean of the
window's batch gradients, as in a hand-written loop."""

from __future__ import annotations

import lightning.pytorch as pl
import torch

from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.train.clip_finetune import CLIPFineTune


class Recorder(pl.Callback):
    def __init__(self) -> None:
        self.grads: list[torch.Tensor] = []
        self.at_start: list[bool] = []
        self.batches: list[dict] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.batches.append(
            {k: (v.clone() if isinstance(v, torch.Tensor) else list(v)) for k, v in batch.items()}
        )

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.grads.append(pl_module.scorer.model.text_projection.grad.detach().clone())


def test_accumulated_gradient_is_the_mean_over_the_window(tmp_path) -> None:
    module = CLIPFineTune(model_seed=0, lr=1e-2, warmup_steps=0)
    start = {k: v.detach().clone() for k, v in module.state_dict().items()}
    recorder = Recorder()
    trainer = pl.Trainer(accelerator="cpu", max_steps=1, accumulate_grad_batches=2, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         limit_val_batches=0, default_root_dir=tmp_path, callbacks=[recorder])  # fmt: skip
    trainer.fit(module, datamodule=WorldDataModule(seed=0, train_size=32, eval_size=4, batch_size=8))
    assert len(recorder.batches) == 2 and len(recorder.grads) == 1

    reference = CLIPFineTune(model_seed=0)
    reference.load_state_dict(start)
    reference.log = lambda *a, **k: None
    reference.scorer.train()
    for batch in recorder.batches:  # by hand: mean of the two batch losses' gradients
        (reference.compute_loss(batch) / 2).backward()
    torch.testing.assert_close(
        recorder.grads[0], reference.scorer.model.text_projection.grad, atol=1e-6, rtol=1e-5
    )
