"""What every dual-encoder scorer shares: device/dtype, temperature, bias and the similarity logits."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Tower = Literal["image", "text"]


class DualEncoderScorer(torch.nn.Module):
    """Base of the ``ImageTextScorer`` adapters; ``self.model`` holds ``logit_scale`` (and maybe ``logit_bias``)."""

    model: torch.nn.Module

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return self.model.logit_scale.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model's parameters."""
        return self.model.logit_scale.dtype

    @property
    def logit_scale(self) -> torch.Tensor:
        """exp of the learned temperature parameter, a scalar tensor (differentiable)."""
        return self.model.logit_scale.exp().reshape(())

    @property
    def logit_bias(self) -> torch.Tensor | None:
        """Learned logit bias (SigLIP-style models) as a scalar tensor, else ``None``."""
        bias = getattr(self.model, "logit_bias", None)
        return None if bias is None else bias.reshape(())

    def similarity(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """Logits [B, T] = logit_scale · cos(image_features[b], text_features[t]) (+ logit_bias)."""
        cos = F.normalize(image_features, dim=-1) @ F.normalize(text_features, dim=-1).T  # [B, D] @ [D, T]
        logits = self.logit_scale.to(cos.dtype) * cos
        bias = self.logit_bias
        return logits if bias is None else logits + bias.to(cos.dtype)

    def train(self, mode: bool = True) -> DualEncoderScorer:
        """``nn.Module.train``, except that a child of ``self.model`` whose parameters are all frozen (a locked
        tower, ``lock_tower``) stays in eval mode: no dropout and no batch-norm updates in a frozen tower."""
        super().train(mode)
        for module in self.model.children():
            params = list(module.parameters())
            if mode and params and not any(p.requires_grad for p in params):
                module.eval()
        return self
