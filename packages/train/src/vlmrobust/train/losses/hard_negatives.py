"""Contrastive losses with hard-negative (NegCLIP) and hard-positive captions (DESIGN.md §Training).

Both take L2-normalised features and the exponentiated logit scale, like ``InfoNCE``. Under several ranks the
features are all-gathered with gradients and every rank computes the loss of the global batch (open_clip's
``gather_with_grad`` without ``local_loss``), so the gradient equals the single-process one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _gather(x: Tensor, world_size: int) -> Tensor:
    """``x`` of every rank, concatenated along dim 0 in rank order, with gradients to each rank's part."""
    if world_size == 1:
        return x
    import torch.distributed.nn as dist_nn

    return torch.cat(dist_nn.all_gather(x), dim=0)


class _RankedLoss(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rank, self.world_size = 0, 1

    def setup_ranks(self, rank: int, world_size: int) -> None:
        """Record this process's global rank and the number of processes."""
        self.rank, self.world_size = rank, world_size


class NegCLIPLoss(_RankedLoss):
    """NegCLIP: image→text over the B true captions and the B·k hard negatives, text→image over the true
    captions only; the loss is the mean of the two cross-entropies.

    ``negative_features`` holds the k hard negatives of each image, ``[B, k, D]`` (row i: image i's
    negatives). The image→text logits are ``[B, B + B·k]`` (true captions first, then every image's negatives,
    so a negative of another image is a negative too).
    """

    def forward(
        self, image_features: Tensor, text_features: Tensor, negative_features: Tensor, logit_scale: Tensor
    ) -> Tensor:
        """Scalar loss from ``[B, D]`` images, ``[B, D]`` captions, ``[B, k, D]`` hard negatives and the scale."""
        if negative_features.dim() != 3 or negative_features.shape[0] != image_features.shape[0]:
            raise ValueError(
                f"negative_features must be [B, k, D] with B = {image_features.shape[0]}, got "
                f"{tuple(negative_features.shape)}"
            )
        images = _gather(image_features, self.world_size)  # [B, D] (global B)
        texts = _gather(text_features, self.world_size)  # [B, D]
        negatives = _gather(negative_features.flatten(0, 1), self.world_size)  # [B·k, D]
        targets = torch.arange(images.shape[0], device=images.device)
        image_to_text = logit_scale * images @ torch.cat([texts, negatives]).T  # [B, B + B·k]
        text_to_image = logit_scale * texts @ images.T  # [B, B]
        return (F.cross_entropy(image_to_text, targets) + F.cross_entropy(text_to_image, targets)) / 2


class HardPositiveNegativeLoss(_RankedLoss):
    """Hard positives + hard negatives (the HP+HN loss of ``papers/compositionality_negclip_hardpositives``).

    Texts are the B true captions, the B hard positives (captions that keep the image's meaning) and the hard
    negatives of the rows that carry one. For image i both c_i and its hard positive are positives: its
    image→text loss is the cross-entropy averaged over those two targets, every other text (its own hard
    negative included) a negative. Text→image runs over the true captions and the hard positives, each
    against the B images. The loss is the mean of the two directions.

    Args:
        hard_negative_ratio: fraction of the rows that carry their hard negative (the ablation's 0, 0.25, 0.5,
            0.75); the first ``round(ratio · B)`` rows of each local batch (shuffled by the sampler) do.
    """

    def __init__(self, hard_negative_ratio: float = 1.0) -> None:  # fraction of rows with a hard negative
        super().__init__()
        if not 0.0 <= hard_negative_ratio <= 1.0:
            raise ValueError(f"hard_negative_ratio must be in [0, 1], got {hard_negative_ratio}")
        self.hard_negative_ratio = hard_negative_ratio

    def forward(
        self,
        image_features: Tensor,
        text_features: Tensor,
        positive_features: Tensor,
        negative_features: Tensor,
        logit_scale: Tensor,
    ) -> Tensor:
        """Scalar loss from ``[B, D]`` images, captions, hard positives and hard negatives, and the scale."""
        b = image_features.shape[0]
        for name, feats in (
            ("positive_features", positive_features),
            ("negative_features", negative_features),
        ):
            if feats.shape != image_features.shape:
                raise ValueError(
                    f"{name} must be [B, D] = {tuple(image_features.shape)}, got {tuple(feats.shape)}"
                )
        carried = negative_features[: round(self.hard_negative_ratio * b)]  # [b_n, D]
        images = _gather(image_features, self.world_size)  # [B, D] (global B)
        texts = _gather(text_features, self.world_size)
        positives = _gather(positive_features, self.world_size)
        negatives = _gather(carried, self.world_size)  # [B_n, D]
        n = images.shape[0]
        rows = torch.arange(n, device=images.device)
        log_p = (logit_scale * images @ torch.cat([texts, positives, negatives]).T).log_softmax(
            -1
        )  # [B, 2B + B_n]
        image_to_text = -(log_p[rows, rows] + log_p[rows, n + rows]).mean() / 2
        text_to_image = F.cross_entropy(
            logit_scale * torch.cat([texts, positives]) @ images.T, rows.repeat(2)
        )
        return (image_to_text + text_to_image) / 2


__all__ = ["HardPositiveNegativeLoss", "NegCLIPLoss"]
