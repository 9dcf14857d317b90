"""Linear classification heads on frozen or fine-tuned image features, and their ``ImageClassifier`` view.

``LinearHead`` is the trainable part (WiSE-FT's zero-shot-initialised head, a linear probe);
``HeadClassifier`` pairs it with the function producing its input features, so the ``head/<name>``
protocol (``vlmrobust.eval.protocols.head``) can evaluate it on any eval set whose classes it has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from vlmrobust.eval.heads import build_zero_shot_head
from vlmrobust.models.protocols import ImageTextScorer


class LinearHead(nn.Module):
    """Logits ``x @ weight.T + bias`` over ``num_classes`` classes of ``dim``-dimensional features.

    Args:
        dim: feature dimension D.
        num_classes: number of classes C.
        normalize: L2-normalise the features first (WiSE-FT's head on CLIP image embeddings).
    """

    def __init__(self, dim: int, num_classes: int, normalize: bool = False) -> None:
        super().__init__()
        self.normalize = normalize
        self.linear = nn.Linear(dim, num_classes)

    @classmethod
    def zero_shot(
        cls, scorer: ImageTextScorer, class_names: Sequence[str], templates: Sequence[str]
    ) -> LinearHead:
        """WiSE-FT's initialisation: weight = logit_scale · (the prompt-ensembled zero-shot text head), bias 0,
        on normalised features, so the head's logits equal the zero-shot logits before training."""
        with torch.no_grad():
            weight = build_zero_shot_head(scorer, class_names, templates)  # [C, D]
            weight = scorer.logit_scale.detach().float() * weight.float()
        head = cls(weight.shape[1], weight.shape[0], normalize=True)
        with torch.no_grad():
            head.linear.weight.copy_(weight)
            head.linear.bias.zero_()
        return head.to(weight.device)

    def forward(self, features: Tensor) -> Tensor:
        """Logits [B, C] of features [B, D]."""
        if self.normalize:
            features = nn.functional.normalize(features, dim=-1)
        return self.linear(features.to(self.linear.weight.dtype))


@dataclass
class HeadClassifier:
    """A ``LinearHead`` on the features of ``features`` (``ImageClassifier``).

    Attributes:
        head: the head.
        features: preprocessed images [B, 3, H, W] -> features [B, D].
        class_names: the head's classes, in column order.
        preprocess: eval image transform, PIL image -> tensor [3, H, W].
    """

    head: LinearHead
    features: Callable[[Tensor], Tensor]
    class_names: tuple[str, ...]
    preprocess: Callable[[Any], Tensor]

    def class_logits(self, images: Tensor) -> Tensor:
        """Logits [B, C] over ``class_names``."""
        device = self.head.linear.weight.device
        return self.head(self.features(images.to(device)))
