"""CLIP contrastive fine-tuning (symmetric InfoNCE, open_clip's ``ClipLoss``) as a LightningModule."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import torch

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.prompts import TemplateSet
from vlmrobust.eval.protocols import (
    CaptionSelection,
    EvalProtocol,
    MCQByPrompt,
    ProtocolError,
    Retrieval,
    ZeroShotClassification,
)
from vlmrobust.eval.protocols.head import HeadClassification
from vlmrobust.models.registry import load_scorer
from vlmrobust.train.evaluation import EvaluatesByProtocol
from vlmrobust.train.guards import LossGuard, OnNonFinite
from vlmrobust.train.heads import HeadClassifier, LinearHead
from vlmrobust.train.losses import ContrastiveLoss, InfoNCE
from vlmrobust.train.schedules import warmup_cosine

Objective = Literal["captions", "class_prompts", "cross_entropy"]


class CLIPFineTune(EvaluatesByProtocol):
    """Fine-tune an image-text scorer; validate every eval set by the protocol of its task.

    Training batches are dicts with ``image`` ``[B, 3, H, W]`` and, by ``objective``:

    * ``captions``: ``caption`` (B strings); symmetric contrastive ``loss`` on image-caption pairs;
    * ``class_prompts`` (FLYP): ``label`` (B class indices); the captions are class prompts
      ``template.format(class_name)``, one template per sample drawn by a generator seeded with the global
      step (so a resumed run draws the same ones), under the same contrastive ``loss``;
    * ``cross_entropy`` (WiSE-FT's fine-tuning): ``label``; cross-entropy of a ``LinearHead`` on the
      normalised image embedding, initialised from the zero-shot classifier of the training classes (weights
      = logit scale · prompt-ensembled text head), so step 0 predicts exactly as zero-shot. The text tower
      is unused and locked.

    Class names come from the DataModule's ``class_names``; templates from ``train_templates`` or the
    DataModule's ``templates``. ``lock_image`` / ``lock_text`` freeze a tower (LiT-style; frozen modules stay
    in eval mode). Validation answers each of the DataModule's ``eval_sets`` by the protocol of its task
    (``eval_protocol``): zero-shot classification / MCQ by option prompts from text heads rebuilt at every
    validation, or, for ``cross_entropy``, the trained head (``head/ce``, over the eval set's classes), and
    returns the protocol's per-sample ``BatchPredictions`` for ``RobustnessCallback``.

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
        objective: ``captions``, ``class_prompts`` (FLYP) or ``cross_entropy`` (zero-shot-initialised head).
        lock_image: freeze the image tower.
        lock_text: freeze the text tower (implied by ``cross_entropy``).
        train_templates: class-prompt templates of ``class_prompts`` and of the head's initialisation
            (``None``: the DataModule's ``templates``).
        on_nonfinite: a NaN/Inf loss stops the run naming step and batch (``stop``), or its step is skipped
            and counted in ``train/skipped_steps`` (``skip``; ten in a row still stop).
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
        objective: Objective = "captions",  # captions, class prompts (FLYP) or cross-entropy head (WiSE-FT)
        lock_image: bool = False,  # freeze the image tower
        lock_text: bool = False,  # freeze the text tower (implied by cross_entropy)
        train_templates: Sequence[str] | None = None,  # class-prompt templates (None: the DataModule's)
        on_nonfinite: OnNonFinite = "stop",  # a NaN/Inf loss stops the run, or skips the step (counted)
    ) -> None:
        super().__init__()
        if objective not in _OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; valid: {', '.join(map(repr, _OBJECTIVES))}")
        if objective == "cross_entropy" and lock_image:
            raise ValueError(
                "objective='cross_entropy' with lock_image=True trains nothing but the head; use "
                "vlmrobust.train.linear_probe.LinearProbe for a probe on frozen features"
            )
        self.save_hyperparameters(ignore=["loss"])
        self.model_spec, self.objective = model, objective
        self.scorer = load_scorer(model, seed=model_seed).train()
        for tower, locked in (("image", lock_image), ("text", lock_text or objective == "cross_entropy")):
            if locked:
                self.scorer.lock_tower(tower)
        self.loss_fn: ContrastiveLoss = loss if loss is not None else InfoNCE()
        self.guard = LossGuard(on_nonfinite)
        self.head: LinearHead | None = (
            None  # cross_entropy: built in configure_model from the training classes
        )
        self._train_classes: tuple[str, ...] = ()
        self._templates: tuple[str, ...] = ()
        self._protocols: dict[str, EvalProtocol] = (
            {"classification": HeadClassification("ce"), "mcq": HeadClassification("ce")}
            if objective == "cross_entropy"
            else {
                "classification": ZeroShotClassification(templates=eval_templates),
                "mcq": MCQByPrompt(templates=eval_templates),
                "captions": CaptionSelection(),  # What'sUp, ARO, hard positives ... by image-caption cosine
                "images": CaptionSelection(),  # MMVP-VLM: the statement's image
                "retrieval": Retrieval(),
            }
        )
        self._eval_sets: list[EvalSetInfo] = []  # the DataModule's sets, read at each validation start

    # --- data hooks ---------------------------------------------------------------------------------
    def configure_model(self) -> None:
        """Read the training classes and templates from the DataModule; build the ``cross_entropy`` head
        (before sharding and before a checkpoint is restored into it)."""
        dm = getattr(self.trainer, "datamodule", None)
        if self.objective == "captions" or self.head is not None:
            return
        names, templates = getattr(dm, "class_names", None), self.hparams.train_templates
        templates = templates if templates is not None else getattr(dm, "templates", None)
        if not names or not templates:
            raise AttributeError(
                f"CLIPFineTune(objective={self.objective!r}) needs a DataModule with `class_names` and "
                f"`templates` (or train_templates); got {type(dm).__name__}"
            )
        self._train_classes, self._templates = tuple(names), tuple(templates)
        if self.objective == "cross_entropy":
            self.head = LinearHead.zero_shot(self.scorer, self._train_classes, self._templates)

    def setup(self, stage: str) -> None:
        """Give the DataModule this model's image preprocessing and the loss this process's rank."""
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "set_image_transforms"):
            dm.set_image_transforms(self.scorer.preprocess_train, self.scorer.preprocess)
        self.loss_fn.setup_ranks(self.global_rank, self.trainer.world_size)

    def classifier(self) -> HeadClassifier:
        """The ``cross_entropy`` head as an ``ImageClassifier`` on the current image tower."""
        if self.head is None:
            raise RuntimeError("CLIPFineTune has a classifier head only with objective='cross_entropy'")
        return HeadClassifier(
            self.head, self.scorer.encode_image, self._train_classes, self.scorer.preprocess
        )

    # --- training -----------------------------------------------------------------------------------
    def _batch_column(self, batch: dict[str, Any], key: str) -> Any:
        if key not in batch:
            raise KeyError(
                f"CLIPFineTune(objective={self.objective!r}) needs batch column {key!r}; the batch has "
                f"{sorted(batch)}"
            )
        return batch[key]

    def _captions(self, batch: dict[str, Any]) -> list[str]:
        if self.objective == "captions":
            return list(self._batch_column(batch, "caption"))
        labels = torch.as_tensor(self._batch_column(batch, "label")).tolist()
        gen = torch.Generator().manual_seed(self.global_step)
        picks = torch.randint(len(self._templates), (len(labels),), generator=gen).tolist()
        return [self._templates[t].format(self._train_classes[y]) for t, y in zip(picks, labels, strict=True)]

    def compute_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        """The training loss of one batch (by ``objective``; recipes override this, not ``training_step``)."""
        images = self._batch_column(batch, "image")
        if self.objective == "cross_entropy":
            labels = torch.as_tensor(self._batch_column(batch, "label"), device=self.device)
            logits = self.head(self.scorer.encode_image(images, normalize=True))  # [B, C]
            return torch.nn.functional.cross_entropy(logits, labels)
        tokens = self.scorer.tokenize(self._captions(batch)).to(self.device)
        image_features = self.scorer.encode_image(images, normalize=True)
        text_features = self.scorer.encode_text(tokens, normalize=True)
        return self.loss_fn(image_features, text_features, self.scorer.logit_scale, self.scorer.logit_bias)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        """``compute_loss``, checked by the loss guard (``None``: a skipped non-finite step) and logged."""
        loss = self.guard(self, self.compute_loss(batch), batch_idx)
        size = len(batch["image"])
        if loss is not None:
            self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log("train/logit_scale", self.scorer.logit_scale.detach(), batch_size=size)
        self.log("train/skipped_steps", float(self.guard.skipped), batch_size=size)
        return loss

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        """Free the previous step's gradients before the forward, as a hand-written loop does (Lightning
        zeroes them between forward and backward, so old gradients and new activations would coexist: one
        model's worth of extra peak memory). Only at the start of an accumulation window."""
        if batch_idx % self.trainer.accumulate_grad_batches == 0:
            for optimizer in self.trainer.optimizers:
                optimizer.zero_grad(set_to_none=True)

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # CLIP keeps the temperature in [0, ln 100]: clamp the stored log-scale after each step.
        with torch.no_grad():
            self.scorer.model.logit_scale.clamp_(0, 4.6052)

    # --- validation by protocol --------------------------------------------------------------------
    def eval_protocol(self, info: EvalSetInfo) -> EvalProtocol:
        """The protocol answering ``info``: zero-shot classification, MCQ by option prompts, caption / image
        selection and retrieval by cosine (the trained head only answers class sets)."""
        if info.task not in self._protocols:
            raise ProtocolError(
                f"CLIPFineTune cannot evaluate {info.name!r} ({info.task} set); it runs "
                f"{', '.join(self._protocols)} sets"
            )
        return self._protocols[info.task]

    def eval_model(self) -> Any:
        """The cross-entropy head as a classifier, else the scorer."""
        return self.classifier() if self.objective == "cross_entropy" else self.scorer

    # --- optimisation -------------------------------------------------------------------------------
    def configure_optimizers(self) -> dict[str, Any]:
        decay, no_decay = [], []
        for name, param in self.named_parameters():
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


_OBJECTIVES: tuple[str, ...] = ("captions", "class_prompts", "cross_entropy")
