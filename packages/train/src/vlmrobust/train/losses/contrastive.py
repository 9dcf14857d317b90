"""Image-text contrastive losses on L2-normalised features (DESIGN.md §Training: CLIP fine-tuning)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

from open_clip.loss import ClipLoss, SigLipLoss
from torch import Tensor, nn


class ContrastiveLoss(nn.Module, ABC):
    """A loss over a batch of image and text features of matching pairs (row i with row i).

    ``setup_ranks`` is called by the LightningModule once the Trainer knows the process's rank, so
    distributed variants can gather features from every rank.
    """

    def __init__(self) -> None:
        super().__init__()
        self.rank, self.world_size = 0, 1

    def setup_ranks(self, rank: int, world_size: int) -> None:
        """Record this process's global rank and the number of processes."""
        self.rank, self.world_size = rank, world_size

    @abstractmethod
    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        logit_scale: Tensor,
        logit_bias: Tensor | None = None,
    ) -> Tensor:
        """Scalar loss from ``[B, D]`` image and text features, the (exponentiated) scale and an optional bias."""


class InfoNCE(ContrastiveLoss):
    """Symmetric InfoNCE: mean of the image→text and text→image cross-entropies over the (global) batch.

    Args:
        gather_with_grad: all-gather features with gradients across ranks (exact global-batch gradient).
        local_loss: compute the loss on the local rows against all gathered features (open_clip option).
    """

    def __init__(
        self,
        gather_with_grad: bool = True,  # all-gather features with gradients across ranks
        local_loss: bool = False,  # local rows vs all gathered features (saves memory)
    ) -> None:
        super().__init__()
        self.gather_with_grad, self.local_loss = gather_with_grad, local_loss
        self._impl = self._build()

    def _build(self) -> ClipLoss:
        return ClipLoss(
            local_loss=self.local_loss, gather_with_grad=self.gather_with_grad, cache_labels=True,
            rank=self.rank, world_size=self.world_size,
        )  # fmt: skip

    def setup_ranks(self, rank: int, world_size: int) -> None:
        super().setup_ranks(rank, world_size)
        self._impl = self._build()

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        logit_scale: Tensor,
        logit_bias: Tensor | None = None,
    ) -> Tensor:
        return self._impl(image_features, text_features, logit_scale)


class SigmoidLoss(ContrastiveLoss):
    """SigLIP's sigmoid loss: every image-text pair a binary match / no-match, with a learned bias.

    Args:
        dist_impl: how text features travel between ranks (open_clip's options).
    """

    def __init__(
        self,
        dist_impl: Literal[
            "bidir", "shift", "reduce", "gather"
        ] = "bidir",  # text-feature exchange across ranks
    ) -> None:
        super().__init__()
        self.dist_impl = dist_impl
        self._impl = SigLipLoss(rank=0, world_size=1, dist_impl=dist_impl)

    def setup_ranks(self, rank: int, world_size: int) -> None:
        super().setup_ranks(rank, world_size)
        self._impl = SigLipLoss(rank=rank, world_size=world_size, dist_impl=self.dist_impl)

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        logit_scale: Tensor,
        logit_bias: Tensor | None = None,
    ) -> Tensor:
        if logit_bias is None:
            raise ValueError("SigmoidLoss needs a model with a logit bias (SigLIP-style); this one has none")
        return self._impl(image_features, text_features, logit_scale, logit_bias)


__all__ = ["ContrastiveLoss", "InfoNCE", "SigmoidLoss"]
