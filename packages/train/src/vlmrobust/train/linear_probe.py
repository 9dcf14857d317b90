"""Linear probes on frozen features: a linear head trained with cross-entropy on cached features.

Train with ``FeatureDataModule`` (the source DataModule's images encoded once by an ``ImageEncoder``, cached
on disk); the head is validated on every eval set of the source by the ``head/linear`` protocol, over the
set's own classes. A sweep over ``train_subset`` × seed draws the "heads on frozen features lie on a line"
experiment in the probit plane (``configs/sweeps/linear_probe_world.yaml``).
"""

from __future__ import annotations

from typing import Any

import torch

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.protocols.head import HeadClassification
from vlmrobust.train.evaluation import EvaluatesByProtocol
from vlmrobust.train.guards import LossGuard, OnNonFinite
from vlmrobust.train.heads import HeadClassifier, LinearHead


class LinearProbe(EvaluatesByProtocol):
    """A linear head on cached features (batches with ``features`` [B, D] and ``label`` [B]).

    The feature dimension and the classes come from the ``FeatureDataModule`` (``feature_dim``,
    ``class_names``); the head is built in ``configure_model``, initialised from ``seed``.

    Args:
        lr: Adam learning rate.
        weight_decay: Adam (L2) weight decay.
        normalize: L2-normalise the features before the head.
        seed: seed of the head's initialisation.
        on_nonfinite: a NaN/Inf loss stops the run (``stop``) or its step is skipped and counted (``skip``).
    """

    def __init__(
        self,
        lr: float = 1e-3,  # Adam learning rate
        weight_decay: float = 0.0,  # Adam (L2) weight decay
        normalize: bool = False,  # L2-normalise the features first
        seed: int = 0,  # seed of the head's initialisation
        on_nonfinite: OnNonFinite = "stop",  # a NaN/Inf loss stops the run, or skips the step
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.head: LinearHead | None = None
        self.class_names: tuple[str, ...] = ()
        self.model_spec = "linear-probe"  # replaced by the encoder's identity in configure_model
        self.guard = LossGuard(on_nonfinite)
        self._protocol = HeadClassification("linear")
        self._eval_sets: list[EvalSetInfo] = []

    def configure_model(self) -> None:
        """Build the head from the DataModule's feature dimension and classes."""
        if self.head is not None:
            return
        dm = self.trainer.datamodule
        if not hasattr(dm, "feature_dim") or not hasattr(dm, "class_names"):
            raise AttributeError(
                f"LinearProbe trains on cached features: use FeatureDataModule, not {type(dm).__name__}"
            )
        dm.setup("fit")
        self.class_names = tuple(dm.class_names)
        encoder = getattr(dm, "encoder", None)
        self.model_spec = f"linear-probe[{getattr(encoder, 'identity', 'features')}]"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.hparams.seed)
            self.head = LinearHead(dm.feature_dim, len(self.class_names), normalize=self.hparams.normalize)

    def classifier(self) -> HeadClassifier:
        """The head as an ``ImageClassifier`` on cached features."""
        if self.head is None:
            raise RuntimeError(
                "LinearProbe.classifier: the head is built in configure_model (attach a trainer)"
            )
        return HeadClassifier(self.head, lambda features: features, self.class_names, lambda x: x)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        missing = [k for k in ("features", "label") if k not in batch]
        if missing:
            raise KeyError(f"LinearProbe needs batch columns {missing}; the batch has {sorted(batch)}")
        logits = self.head(batch["features"])  # [B, C]
        loss = self.guard(self, torch.nn.functional.cross_entropy(logits, batch["label"]), batch_idx)
        if loss is not None:
            self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    def eval_protocol(self, info: EvalSetInfo) -> HeadClassification:
        """``head/linear`` for every eval set (classification or MCQ over the set's classes)."""
        return self._protocol

    def eval_model(self) -> HeadClassifier:
        """The head as a classifier on cached features."""
        return self.classifier()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
