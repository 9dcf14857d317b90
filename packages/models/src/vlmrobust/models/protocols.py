"""Role protocols: what evaluators and trainers may rely on, whatever the backend."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

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

    def lock_tower(self, tower: Literal["image", "text"]) -> None:
        """Freeze one tower (no gradients) for LiT-style / lock-text fine-tuning."""
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


@dataclass(frozen=True)
class ContinuationScores:
    """Log-likelihoods of K continuations of one prompt (higher = more likely).

    Attributes:
        sum: summed log-probability of each continuation's tokens, float32 [K].
        mean: per-token mean log-probability, float32 [K].
        num_tokens: number of tokens of each continuation, long [K].
    """

    sum: torch.Tensor
    mean: torch.Tensor
    num_tokens: torch.Tensor

    def choice(self, reduction: Literal["sum", "mean"] = "sum") -> int:
        """Index of the most likely continuation under ``reduction`` (summed or per-token mean log-prob;
        ties go to the first)."""
        if reduction not in ("sum", "mean"):
            raise ValueError(
                f"unknown reduction {reduction!r}: choice ranks continuations by 'sum' or 'mean'"
            )
        return int(getattr(self, reduction).argmax())


@runtime_checkable
class GenerativeVLM(Protocol):
    """An image-text-to-text model that generates answers and scores candidate answers by likelihood.

    Attributes:
        model: the backend model.
        processor: the backend processor (tokenizer + image processor + chat template).
        spec: the model spec string it was loaded from.
    """

    model: torch.nn.Module
    processor: Any
    spec: str

    def format_prompt(self, prompt: str, with_image: bool = True) -> str:
        """The user turn through the chat template, ending with the assistant's generation prompt."""
        ...

    def generate(
        self, prompts: Sequence[str], images: Sequence[Image.Image] | None = None, max_new_tokens: int = 32
    ) -> list[str]:
        """Decoded answers, one per prompt (each about its image, or text-only when ``images`` is None)."""
        ...

    def loglikelihood(
        self, image: Image.Image | None, prompt: str, continuations: Sequence[str], shared_prefix: bool = True
    ) -> ContinuationScores:
        """Summed and mean log-probs [K] of each continuation as the answer; ``image=None`` scores without
        the image."""
        ...

    def loglikelihood_batch(
        self,
        images: Sequence[Image.Image | None] | None,
        prompts: Sequence[str],
        continuations: Sequence[Sequence[str]],
    ) -> list[ContinuationScores]:
        """``loglikelihood`` of B questions at once (K_b options each), one ``ContinuationScores`` per question;
        ``images=None`` (or a ``None`` entry) scores text-only prompts. Scores equal per-question
        ``loglikelihood`` whatever else is in the batch; unequal lengths of the three raise ``ValueError``."""
        ...


@runtime_checkable
class EmbeddingModel(Protocol):
    """A model that embeds (image, text) queries and targets into one space (VLM2Vec-style)."""

    model: torch.nn.Module

    def embed_queries(
        self, texts: Sequence[str], images: Sequence[Image.Image] | None = None
    ) -> torch.Tensor:
        """Query embeddings [B, D] (unit norm when the model normalises)."""
        ...

    def embed_targets(
        self, texts: Sequence[str], images: Sequence[Image.Image] | None = None
    ) -> torch.Tensor:
        """Target embeddings [B, D] (unit norm when the model normalises)."""
        ...


@runtime_checkable
class FeatureExtractor(Protocol):
    """Frozen image features for linear probes (CLS, mean-patch, last-token or mean-token at a layer)."""

    pooling: str
    layer: int

    def __call__(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Features [B, D] of the images."""
        ...


@runtime_checkable
class ImageClassifier(Protocol):
    """An image classifier over its own named classes: a fine-tuned cross-entropy head, a linear probe.

    Attributes:
        class_names: the classes of the logit columns, in column order.
        preprocess: eval image transform, PIL image -> float tensor [3, H, W].
    """

    class_names: tuple[str, ...]
    preprocess: Callable[[Image.Image], torch.Tensor]

    def class_logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits [B, C] over ``class_names`` of preprocessed images [B, 3, H, W] (or, for a head on cached
        features, of the features [B, D])."""
        ...
