"""CLIP contrastive fine-tuning (symmetric InfoNCE, open_clip's ``ClipLoss``) as a LightningModule."""

from __future__ import annotations

from functools import partial
from typing import Any

import lightning.pytorch as pl
import torch

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.prompts import TemplateSet
from vlmrobust.eval.protocols import (
    BatchPredictions,
    EvalProtocol,
    MCQByPrompt,
    ProtocolError,
    ZeroShotClassification,
)
from vlmrobust.models.registry import load_scorer
from vlmrobust.train.losses import ContrastiveLoss, InfoNCE
from vlmrobust.train.schedules import warmup_cosine


class CLIPFineTune(pl.LightningModule):
    """Fine-tune an image-text scorer on image-caption pairs; validate by zero-shot classification.

    Batches for training are dicts with ``image`` ``[B, 3, H, W]`` and ``caption`` (list of B strings).
    Validation answers each of the DataModule's ``eval_sets`` by the protocol of its task
    (``eval_protocol``): zero-shot classification for classification sets, the best-scoring option prompt
    for MCQ sets, with the heads rebuilt from the current weights at every validation, and returns the
    protocol's per-sample ``BatchPredictions`` for ``RobustnessCallback``.

    Args:
        model: model spec, e.g. ``open_clip:vlmrobust-tiny-clip`` or ``open_clip:ViT-B-32@openai``.
        lr: peak AdamW learning rate.
        weight_decay: AdamW weight decay, applied to weight matrices only (not gains, biases, logit scale).
        betas: AdamW betas.
        eps: AdamW epsilon.
        warmup_steps: linear warmup steps before cosine decay.
        loss: the contrastive loss (``vlmrobust.train.losses``; default symmetric InfoNCE with all-gather).
        eval_templates: prompt template set of validation (``dataset``: each eval set's own templates).
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
        loss: ContrastiveLoss | None = None,
        eval_templates: TemplateSet = "dataset",
        model_seed: int | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["loss"])
        self.model_spec = model
        self.scorer = load_scorer(model, seed=model_seed).train()
        self.loss_fn: ContrastiveLoss = loss if loss is not None else InfoNCE()
        self._protocols: dict[str, EvalProtocol] = {
            "classification": ZeroShotClassification(templates=eval_templates),
            "mcq": MCQByPrompt(templates=eval_templates),
        }
        self._eval_sets: list[EvalSetInfo] = []  # the DataModule's sets, read at each validation start

    # --- data hooks ---------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """Give the DataModule this model's image preprocessing and the loss this process's rank."""
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "set_image_transforms"):
            dm.set_image_transforms(self.scorer.preprocess_train, self.scorer.preprocess)
        self.loss_fn.setup_ranks(self.global_rank, self.trainer.world_size)

    # --- training -----------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        tokens = self.scorer.tokenize(batch["caption"]).to(self.device)
        image_features = self.scorer.encode_image(batch["image"], normalize=True)
        text_features = self.scorer.encode_text(tokens, normalize=True)
        loss = self.loss_fn(image_features, text_features, self.scorer.logit_scale, self.scorer.logit_bias)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["caption"]))
        self.log("train/logit_scale", self.scorer.logit_scale.detach(), batch_size=len(batch["caption"]))
        return loss

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # CLIP keeps the temperature in [0, ln 100]: clamp the stored log-scale after each step.
        with torch.no_grad():
            self.scorer.model.logit_scale.clamp_(0, 4.6052)

    # --- validation by protocol --------------------------------------------------------------------
    def eval_protocol(self, info: EvalSetInfo) -> EvalProtocol:
        """The protocol answering ``info``: zero-shot classification or MCQ by option prompts."""
        if info.task not in self._protocols:
            raise ProtocolError(
                f"CLIPFineTune cannot evaluate {info.name!r} ({info.task} set); it runs "
                f"{', '.join(self._protocols)} sets"
            )
        return self._protocols[info.task]

    def _eval_start(self) -> None:
        eval_sets = getattr(self.trainer.datamodule, "eval_sets", None)
        if eval_sets is None:
            raise AttributeError(
                "CLIPFineTune validation needs a DataModule with `eval_sets` (class names, templates)"
            )
        self._eval_sets = list(eval_sets)
        for info in self._eval_sets:  # heads from the current weights
            self.eval_protocol(info).prepare(self.scorer, info)

    def on_validation_epoch_start(self) -> None:
        self._eval_start()

    def on_test_epoch_start(self) -> None:
        self._eval_start()

    def _eval_step(self, batch: dict[str, Any], dataloader_idx: int) -> BatchPredictions:
        info = self._eval_sets[dataloader_idx]
        return self.eval_protocol(info).predict(self.scorer, info, batch)

    def validation_step(
        self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0
    ) -> BatchPredictions:
        return self._eval_step(batch, dataloader_idx)

    def test_step(self, batch: dict[str, Any], batch_idx: int, dataloader_idx: int = 0) -> BatchPredictions:
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
