"""Hugging Face CLIP-style dual encoders (``CLIPModel``, ``SiglipModel``, …) as an ``ImageTextScorer``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from vlmrobust.models.hf_loading import from_pretrained_offline
from vlmrobust.models.scorer_base import DualEncoderScorer, Tower
from vlmrobust.models.spec import ModelSpec


def _features(out: Any) -> torch.Tensor:
    """``get_*_features`` return a tensor (transformers 4) or an output whose ``pooler_output`` is projected (5)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


_TOWER_PREFIXES: dict[str, tuple[str, ...]] = {
    "image": ("vision_model", "visual_projection"),
    "text": ("text_model", "text_projection"),
}


class HFClipScorer(DualEncoderScorer):
    """A Hugging Face dual encoder with its tokenizer and image processor, implementing ``ImageTextScorer``.

    Build it with ``load_scorer("hf:<repo-or-dir>")``. Texts are padded to ``context_length`` (as CLIP and
    SigLIP were trained) and the towers read token ids only. The image processor has no augmentation, so
    ``preprocess_train`` is the eval transform.
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, image_processor: Any, spec: str) -> None:
        """Wrap a loaded model.

        Args:
            model: a transformers model with ``get_image_features``/``get_text_features`` and ``logit_scale``.
            tokenizer: its tokenizer.
            image_processor: its image processor.
            spec: the spec string it was loaded from.
        """
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.spec = spec
        text_cfg = getattr(model.config, "text_config", model.config)
        self.context_length: int = int(
            min(text_cfg.max_position_embeddings, getattr(tokenizer, "model_max_length", 1 << 30))
        )

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """The model's eval transform: PIL image -> float tensor [3, H, W]."""
        return self.image_processor(images=[image.convert("RGB")], return_tensors="pt")["pixel_values"][0]

    def preprocess_train(self, image: Image.Image) -> torch.Tensor:
        """Same as ``preprocess`` (Hugging Face image processors carry no train augmentation)."""
        return self.preprocess(image)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids, LongTensor [T, context_length]; long texts are truncated."""
        if isinstance(texts, str):
            raise TypeError("tokenize expects a list of strings, got a single str; wrap it in a list")
        enc = self.tokenizer(
            list(texts),
            padding="max_length",
            truncation=True,
            max_length=self.context_length,
            return_tensors="pt",
        )
        return enc["input_ids"]

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Embed preprocessed images [B, 3, H, W] into [B, D] (unit norm if ``normalize``)."""
        out = _features(
            self.model.get_image_features(pixel_values=images.to(device=self.device, dtype=self.dtype))
        )
        return F.normalize(out, dim=-1) if normalize else out

    def encode_text(self, texts: Sequence[str] | torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Embed strings or token ids [T, L] into [T, D] (unit norm if ``normalize``)."""
        tokens = texts if isinstance(texts, torch.Tensor) else self.tokenize(texts)
        out = _features(
            self.model.get_text_features(input_ids=tokens.to(device=self.device, dtype=torch.long))
        )
        return F.normalize(out, dim=-1) if normalize else out

    def lock_tower(self, tower: Tower) -> None:
        """Freeze the ``image`` (``vision_model``, ``visual_projection``) or ``text`` tower (``text_model``,
        ``text_projection``): no gradients; frozen modules stay in eval mode."""
        if tower not in _TOWER_PREFIXES:
            raise ValueError(f"unknown tower {tower!r}; valid: 'image', 'text'")
        prefixes = _TOWER_PREFIXES[tower]
        frozen = [p for n, p in self.model.named_parameters() if n.startswith(prefixes)]
        if not frozen:
            raise ValueError(f"{self.spec}: no {tower}-tower parameters under {prefixes}")
        for param in frozen:
            param.requires_grad_(False)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor | Sequence[str]) -> tuple[torch.Tensor, ...]:
        """Return ``(image_features, text_features, logit_scale[, logit_bias])`` (unit-norm features)."""
        out = (self.encode_image(images), self.encode_text(tokens), self.logit_scale)
        return out if self.logit_bias is None else (*out, self.logit_bias)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write model, tokenizer and image processor to the directory ``path``; ``load_scorer(f"hf:{path}")``
        reloads them exactly."""
        path = Path(path)
        self.model.save_pretrained(path, safe_serialization=True)
        self.tokenizer.save_pretrained(path)
        self.image_processor.save_pretrained(path)
        return path


def build_hf_scorer(
    spec: ModelSpec,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    cache_dir: str | os.PathLike[str] | None = None,
) -> HFClipScorer:
    """Load an ``HFClipScorer`` (eval mode) from an ``hf:`` spec, offline-first.

    Args:
        spec: parsed ``hf:<repo-id-or-local-dir>`` spec.
        device: device of the returned model.
        dtype: parameter dtype.
        cache_dir: Hugging Face cache for repo ids (default: the hub cache).

    Raises:
        ValueError: the model is not a dual encoder (no ``get_image_features``/``get_text_features``).
        FileNotFoundError, WeightsNotCachedError: see ``vlmrobust.models.hf_loading``.
    """
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    cache = {} if cache_dir is None else {"cache_dir": str(cache_dir)}
    model = from_pretrained_offline(AutoModel.from_pretrained, spec, "model", dtype=dtype, **cache)
    if not all(hasattr(model, a) for a in ("get_image_features", "get_text_features", "logit_scale")):
        raise ValueError(
            f"{spec} loads as {type(model).__name__}, which is not a CLIP-style dual encoder (needs "
            "get_image_features, get_text_features and logit_scale). Use load_vlm for generative VLMs."
        )
    tokenizer = from_pretrained_offline(AutoTokenizer.from_pretrained, spec, "tokenizer", **cache)
    image_processor = from_pretrained_offline(
        AutoImageProcessor.from_pretrained, spec, "image processor", **cache
    )
    return HFClipScorer(model.to(device), tokenizer, image_processor, spec=str(spec)).eval()
