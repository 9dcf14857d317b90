"""Frozen image encoders for feature caches and linear probes (``vlmrobust.data.features.FeatureEncoder``)."""

from __future__ import annotations

from typing import Literal

import torch

from vlmrobust.models.registry import load_feature_extractor, load_scorer
from vlmrobust.models.spec import parse_spec

EncoderPooling = Literal["embedding", "cls", "mean_patch"]


class ImageEncoder:
    """The frozen image features of a model spec, from preprocessed image tensors.

    ``embedding`` is an image-text scorer's image embedding (``open_clip:`` / ``hf:`` CLIP-style models: the
    pooled, projected feature their zero-shot heads score, unnormalised); ``cls`` / ``mean_patch`` are a
    ``timm:`` encoder's class token / mean patch token at ``layer`` (``load_feature_extractor``).

    Args:
        model: model spec (``open_clip:vlmrobust-tiny-clip``, ``open_clip:ViT-B-32@openai``, ``timm:vit_…``).
        pooling: ``embedding`` (image-text scorers) or ``cls`` / ``mean_patch`` (timm encoders).
        layer: hidden-state index of ``cls`` / ``mean_patch`` (``-1``: the final features).
        seed: seed of the random init of models without pretrained weights.
        device: device of the encoder.
    """

    def __init__(
        self,
        model: str = "open_clip:vlmrobust-tiny-clip",  # model spec of the frozen encoder
        pooling: EncoderPooling = "embedding",  # scorer image embedding, or timm cls / mean_patch
        layer: int = -1,  # hidden-state index of cls / mean_patch (-1: final)
        seed: int | None = None,  # seed of a random init (models without pretrained weights)
        device: str = "cpu",  # device of the encoder
    ) -> None:
        spec = parse_spec(model)
        if pooling == "embedding":
            if spec.backend not in ("open_clip", "hf"):
                raise ValueError(
                    f"pooling='embedding' needs an image-text scorer (open_clip: or hf:), got {model}"
                )
            scorer = load_scorer(model, seed=seed, device=device).eval()
            self.preprocess, self._encode = (
                scorer.preprocess,
                lambda x: scorer.encode_image(x, normalize=False),
            )
            self._module: torch.nn.Module = scorer
        elif pooling in ("cls", "mean_patch"):
            if spec.backend != "timm":
                raise ValueError(f"pooling={pooling!r} reads a timm: encoder here, got {model}; for open_clip "
                                 "or hf CLIP-style models use pooling='embedding'")  # fmt: skip
            extractor = load_feature_extractor(model, pooling=pooling, layer=layer, device=device, seed=seed)
            self.preprocess, self._encode, self._module = extractor.preprocess, extractor, extractor
        else:
            raise ValueError(f"unknown pooling {pooling!r}; valid: 'embedding', 'cls', 'mean_patch'")
        self.identity = f"{model}|{pooling}|{layer}|seed={seed}"

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Features [B, D] (float32) of preprocessed images [B, 3, H, W]."""
        param = next(self._module.parameters())
        return self._encode(images.to(param.device, param.dtype)).float()
