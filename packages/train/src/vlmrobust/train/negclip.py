"""CLIP fine-tuning with hard-negative captions (``NegCLIP``) or hard positives + hard negatives
(``HardPositiveNegative``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from vlmrobust.train.clip_finetune import CLIPFineTune
from vlmrobust.train.losses import HardPositiveNegativeLoss, NegCLIPLoss


class NegCLIP(CLIPFineTune):
    """``CLIPFineTune`` whose training batches carry hard negatives (and optionally hard positives) per image.

    Without ``positive_key`` the loss is NegCLIP's (``NegCLIPLoss``): the k captions under ``negative_keys``
    are extra image→text columns. With ``positive_key`` it is HP+HN (``HardPositiveNegativeLoss``): the
    caption under it is a second positive of its image, the first negative key gives the hard negative, and
    ``hard_negative_ratio`` of the rows carry it. Validation is ``CLIPFineTune``'s (zero-shot / MCQ by
    protocol). On the world: ``WorldDataModule(train_data="scenes")``.

    Args:
        negative_keys: batch columns holding hard-negative captions (lists of B strings), k = their number.
        positive_key: batch column of hard-positive captions (``None``: NegCLIP, no hard positives).
        hard_negative_ratio: HP+HN only: fraction of the rows that carry their hard negative.
        **kwargs: ``CLIPFineTune``'s arguments (model, lr, warmup_steps, model_seed …).
    """

    def __init__(
        self,
        negative_keys: Sequence[str] = ("relation_negative", "swapped_objects"),  # hard-negative columns
        positive_key: str | None = None,  # hard-positive column (None: NegCLIP)
        hard_negative_ratio: float = 1.0,  # HP+HN: fraction of rows carrying their hard negative
        **kwargs: Any,
    ) -> None:
        if kwargs.get("objective", "captions") != "captions":
            raise ValueError(
                f"NegCLIP trains on captions; objective={kwargs['objective']!r} is not one of its"
            )
        super().__init__(**kwargs)
        if not negative_keys:
            raise ValueError("NegCLIP needs at least one negative_keys column")
        self.negative_keys, self.positive_key = list(negative_keys), positive_key
        self.hn_loss: NegCLIPLoss | HardPositiveNegativeLoss = (
            NegCLIPLoss() if positive_key is None else HardPositiveNegativeLoss(hard_negative_ratio)
        )

    def setup(self, stage: str) -> None:
        super().setup(stage)
        self.hn_loss.setup_ranks(self.global_rank, self.trainer.world_size)

    def _texts(self, captions: list[str]) -> torch.Tensor:
        return self.scorer.encode_text(self.scorer.tokenize(captions).to(self.device), normalize=True)

    def compute_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        """NegCLIP or HP+HN loss of one batch with its hard-negative (and hard-positive) columns."""
        needed = [
            "image",
            "caption",
            *self.negative_keys,
            *([self.positive_key] if self.positive_key else []),
        ]
        missing = [k for k in needed if k not in batch]
        if missing:
            raise KeyError(
                f"{type(self).__name__} needs batch columns {missing} (the batch has {sorted(batch)}); "
                "on the world use WorldDataModule(train_data='scenes')"
            )
        b = len(batch["caption"])
        images = self.scorer.encode_image(batch["image"], normalize=True)  # [B, D]
        texts = self._texts(batch["caption"])  # [B, D]
        negatives = self._texts([batch[k][i] for i in range(b) for k in self.negative_keys])  # [B·k, D]
        negatives = negatives.view(b, len(self.negative_keys), -1)  # [B, k, D], row i: image i's negatives
        scale = self.scorer.logit_scale
        if isinstance(self.hn_loss, NegCLIPLoss):
            return self.hn_loss(images, texts, negatives, scale)
        positives = self._texts(batch[self.positive_key])
        return self.hn_loss(images, texts, positives, negatives[:, 0], scale)


class HardPositiveNegative(NegCLIP):
    """HP+HN: ``NegCLIP`` with a hard-positive column, the first negative column as the hard negative, and
    ``hard_negative_ratio`` of the rows carrying it (the ablation's 0, 0.25, 0.5, 0.75).

    Args:
        positive_key: batch column of hard-positive captions.
        negative_key: batch column of hard-negative captions.
        hard_negative_ratio: fraction of the rows that carry their hard negative.
        **kwargs: ``CLIPFineTune``'s arguments (model, lr, warmup_steps, model_seed …).
    """

    def __init__(
        self,
        positive_key: str = "relation_positive",  # hard-positive column
        negative_key: str = "relation_negative",  # hard-negative column
        hard_negative_ratio: float = 0.5,  # fraction of rows carrying their hard negative
        **kwargs: Any,
    ) -> None:
        super().__init__(negative_keys=[negative_key], positive_key=positive_key,
                         hard_negative_ratio=hard_negative_ratio, **kwargs)  # fmt: skip
