"""CLIP contrastive fine-tuning (symmetric InfoNCE, open_clip's ``ClipLoss``) as a LightningModule."""

from __future__ import annotations

from functools import partial
from typing import Any

import lightning.pytorch as pl
import torch
from open_clip import ClipLoss

from vlmrobust.eval.heads import build_zero_shot_head, zero_shot_logits
from vlmrobust.models.registry import load_scorer
from vlmrobust.train.schedules import warmup_cosine


class CLIPFineTune(pl.LightningModule):
    """Fine-tune an image-text scorer on image-caption pairs; validate by zero-shot classification.

    Batches for training are dicts with ``image`` ``[B, 3, H, W]`` and ``caption`` (list of B strings);
    validation batches carry ``image``, ``label`` and ``index``. Validation builds one zero-shot head per
    eval set from the DataModule's ``eval_sets`` (class names x templates) and returns per-sample
    predictions for ``RobustnessCallback``.

    Args:
        model: model spec, e.g. ``open_clip:vlmrobust-tiny-clip`` or ``open_clip:ViT-B-32@openai``.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay, applied to weight matrices only (not gains, biases, logit scale).
        betas: AdamW betas.
        eps: AdamW epsilon.
        warmup_steps: linear warmup steps before cosine decay.
        gather_with_grad: all-gather features with gradients across ranks (exact global-batch gradient).
        local_loss: compute the loss on the local rows against all gathered features (open_clip option).
        model_seed: seed of the random init for models without pretrained weights (``None`` = global RNG).
    """

    def __init__(
        self,
        model: str = "open_clip:vlmrobust-tiny-clip",
        lr: float = 5e-4,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-6,
        warmup_steps: int = 10,
        gather_with_grad: bool = True,
        local_loss: bool = False,
        model_seed: int | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model_spec = model
        self.scorer = load_scorer(model, seed=model_seed).train()
        self.loss_fn: ClipLoss | None = None
        self._heads: dict[int, torch.Tensor] = {}

    # --- data hooks ---------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """Give the DataModule this model's image preprocessing and build the distributed loss."""
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "set_image_transforms"):
            dm.set_image_transforms(self.scorer.preprocess_train, self.scorer.preprocess)
        self.loss_fn = ClipLoss(
            local_loss=self.hparams.local_loss,
            gather_with_grad=self.hparams.gather_with_grad,
            cache_labels=True,
            rank=self.global_rank,
            world_size=self.trainer.world_size,
        )

    # --- training -----------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        tokens = self.scorer.tokenize(batch["caption"]).to(self.device)
        image_features = self.scorer.encode_image(batch["image"], normalize=True)
        text_features = self.scorer.encode_text(tokens, normalize=True)
        loss = self.loss_fn(image_features, text_features, self.scorer.logit_scale)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["caption"]))
        self.log("train/logit_scale", self.scorer.logit_scale.detach(), batch_size=len(batch["caption"]))
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # CLIP keeps the temperature in [0, ln 100]: clamp the stored log-scale after each step.
        with torch.no_grad():
            self.scorer.model.logit_scale.clamp_(0, 4.6052)

    # --- zero-shot validation -----------------------------------------------------------------------
    def _eval_start(self) -> None:
        self._heads = {}
        eval_sets = getattr(self.trainer.datamodule, "eval_sets", None)
        if eval_sets is None:
            raise AttributeError(
                "CLIPFineTune validation needs a DataModule with `eval_sets` (class names, templates)"
            )
        cache: dict[tuple, torch.Tensor] = {}
        for i, info in enumerate(eval_sets):
            key = (tuple(info.class_names), tuple(info.templates))
            if key not in cache:
                cache[key] = build_zero_shot_head(self.scorer, info.class_names, info.templates)
            self._heads[i] = cache[key]

    def on_validation_epoch_start(self) -> None:
        self._eval_start()

    def on_test_epoch_start(self) -> None:
        self._eval_start()

    def _eval_step(self, batch: dict[str, Any], dataloader_idx: int) -> dict[str, torch.Tensor]:
        logits = zero_shot_logits(self.scorer, batch["image"], self._heads[dataloader_idx])
        pred = logits.argmax(dim=-1)
        return {
            "index": batch["index"],
            "pred": pred,
            "label": batch["label"],
            "correct": pred == batch["label"],
        }

    def validation_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        return self._eval_step(batch, dataloader_idx)

    def test_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> dict[str, torch.Tensor]:
        return self._eval_step(batch, dataloader_idx)

    # --- optimisation -------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        decay, no_decay = [], []
        for name, param in self.scorer.named_parameters():
            if not param.requires_grad:
                continue
            exclude = param.ndim < 2 or "logit_scale" in name or "logit_bias" in name or "bn" in name
            (no_decay if exclude else decay).append(param)
        hp = self.hparams
        optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=hp.lr,
            betas=hp.betas,
            eps=hp.eps,
        )
        total = int(self.trainer.estimated_stepping_batches)
        schedule = partial(warmup_cosine, warmup_steps=hp.warmup_steps, total_steps=total)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
