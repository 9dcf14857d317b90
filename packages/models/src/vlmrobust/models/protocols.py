"""Role protocols: what evaluators and trainers may rely on, whatever the backend."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from PIL import Image


@runtime_checkable
class ImageTextScorer(Protocol):
    """A dual encoder that scores image–text pairs (CLIP, SigLIP, EVA-CLIP, ...).

    Attributes:
        model: the backend model (trainable parameters live here).
        tokenizer: callable mapping a list of strings to token ids.
        preprocess: eval image transform, PIL image -> float tensor [3, H, W].
        preprocess_train: train image transform (with the backend's augmentation).
        context_length: number of text tokens per caption (longer captions are truncated).
        spec: the model spec string this scorer was loaded from.
    """

    model: torch.nn.Module
    tokenizer: Any
    preprocess: Callable[[Image.Image], torch.Tensor]
    preprocess_train: Callable[[Image.Image], torch.Tensor]
    context_length: int
    spec: str

    @property
    def logit_scale(self) -> torch.Tensor:
        """Multiplier of cosine similarities (already exponentiated), a scalar tensor."""
        ...

    @property
    def logit_bias(self) -> torch.Tensor | None:
        """Additive bias of the logits (SigLIP), or ``None``."""
        ...

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids, LongTensor [T, context_length]."""
        ...

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Image embeddings [B, D] from preprocessed images [B, 3, H, W]."""
        ...

    def encode_text(self, texts: Sequence[str] | torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Text embeddings [T, D] from strings or token ids [T, L]."""
        ...

    def similarity(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """Logits [B, T] = logit_scale * cos(image, text) + logit_bias."""
        ...

    def save(self, path: str | os.PathLike[str]) -> Any:
        """Write the weights so that the same spec with this path reloads them exactly."""
        ...

    def __call__(self, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Contrastive-loss inputs: (image_features, text_features, logit_scale[, logit_bias])."""
        ...
