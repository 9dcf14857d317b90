"""VLM2Vec-style embeddings from a generative VLM (``EmbeddingModel``) and hidden-state features for probes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from vlmrobust.models.hf_vlm import HFGenerativeVLM
from vlmrobust.models.pooling import Pooling, pool

VLM2VEC_QUERY_TEMPLATE = "{image}Represent the given image with the following question: {text}"
VLM2VEC_TARGET_TEMPLATE = "{image}{text}"


class HFEmbeddingModel:
    """Last-layer, last-real-token embeddings of a Hugging Face VLM (VLM2Vec), implementing ``EmbeddingModel``.

    Texts are formatted with the query or target template; ``{image}`` becomes the processor's image token
    (followed by a newline) when the sample has an image and nothing otherwise, ``{text}`` the sample's text.
    Batches are padded on the tokenizer's side (left or right); pooling finds the last real token either way.
    """

    def __init__(
        self,
        vlm: HFGenerativeVLM,
        normalize: bool = True,
        query_template: str = VLM2VEC_QUERY_TEMPLATE,
        target_template: str = VLM2VEC_TARGET_TEMPLATE,
        layer: int = -1,
    ) -> None:
        """Wrap a loaded VLM.

        Args:
            vlm: the model and processor (``load_vlm("hf:…")``).
            normalize: L2-normalise embeddings (for cosine similarity / InfoNCE).
            query_template: format of queries, with ``{image}`` and ``{text}`` fields.
            target_template: format of targets, with ``{image}`` and ``{text}`` fields.
            layer: index into the LM's hidden states (``-1`` = last layer, ``0`` = embeddings).
        """
        for name, template in (("query_template", query_template), ("target_template", target_template)):
            if "{text}" not in template:
                raise ValueError(f"{name} {template!r} has no '{{text}}' field")
        self.vlm = vlm
        self.model = vlm.model
        self.normalize = normalize
        self.query_template = query_template
        self.target_template = target_template
        self.layer = layer

    def _format(self, template: str, text: str, has_image: bool) -> str:
        token = getattr(self.vlm.processor, "image_token", "<image>")
        return template.format(image=f"{token}\n" if has_image else "", text=text)

    def token_states(
        self, texts: Sequence[str], images: Sequence[Image.Image] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """LM hidden states at ``layer`` [B, L, D] and the attention mask [B, L] of already formatted texts."""
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings, got a single str; wrap it in a list")
        if images is not None and len(images) != len(texts):
            raise ValueError(f"got {len(images)} images for {len(texts)} texts; give one image per text")
        kwargs: dict[str, Any] = {"text": list(texts), "return_tensors": "pt", "padding": True}
        if images is not None:
            kwargs["images"] = list(images)
        enc = self.vlm.processor(**kwargs).to(self.vlm.device)
        if "pixel_values" in enc:
            enc["pixel_values"] = enc["pixel_values"].to(self.vlm.dtype)
        self.vlm.reset_position_state()
        out = self.model(**enc, output_hidden_states=True, use_cache=False)
        return out.hidden_states[self.layer], enc["attention_mask"]

    def _embed(
        self, template: str, texts: Sequence[str], images: Sequence[Image.Image] | None
    ) -> torch.Tensor:
        formatted = [self._format(template, t, images is not None) for t in texts]
        hidden, mask = self.token_states(formatted, images)
        emb = pool(hidden, "last_token", mask).float()  # [B, D]
        return F.normalize(emb, dim=-1) if self.normalize else emb

    def embed_queries(
        self, texts: Sequence[str], images: Sequence[Image.Image] | None = None
    ) -> torch.Tensor:
        """Embeddings [B, D] of queries (each text with its image, if given) through ``query_template``."""
        return self._embed(self.query_template, texts, images)

    def embed_targets(
        self, texts: Sequence[str], images: Sequence[Image.Image] | None = None
    ) -> torch.Tensor:
        """Embeddings [B, D] of targets (each text with its image, if given) through ``target_template``."""
        return self._embed(self.target_template, texts, images)


class HFVLMFeatureExtractor:
    """Frozen features of a Hugging Face VLM for linear probes, implementing ``FeatureExtractor``.

    ``last_token``/``mean_token`` pool the LM's hidden states at ``layer`` over the templated prompt with the
    image; ``cls``/``mean_patch`` pool the vision tower's hidden states at ``layer`` (towers with a class
    token, e.g. LLaVA's CLIP).
    """

    def __init__(
        self,
        vlm: HFGenerativeVLM,
        pooling: Pooling = "last_token",
        layer: int = -1,
        prompt: str = "What type of object is in this photo?",
    ) -> None:
        """Wrap a loaded VLM.

        Args:
            vlm: the model and processor (``load_vlm("hf:…")``).
            pooling: ``cls``, ``mean_patch`` (vision tower) or ``last_token``, ``mean_token`` (LM).
            layer: index into the chosen tower's hidden states (``-1`` = last, ``0`` = embeddings).
            prompt: user message sent with the image for the LM poolings (chat template applied).
        """
        self.vlm = vlm
        self.pooling = pooling
        self.layer = layer
        self.prompt = prompt
        self._embedder = HFEmbeddingModel(vlm, normalize=False, layer=layer)

    @torch.no_grad()
    def __call__(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Features [B, D] (float32) of the images."""
        if self.pooling in ("cls", "mean_patch"):
            tower = getattr(self.vlm.model.model, "vision_tower", None)
            if (
                tower is None
                or not hasattr(tower, "embeddings")
                or not hasattr(tower.embeddings, "class_embedding")
            ):
                raise ValueError(
                    f"pooling {self.pooling!r} needs a vision tower with a class token; {self.vlm.spec} has "
                    f"{type(tower).__name__}. Use 'last_token' or 'mean_token'."
                )
            pixels = self.vlm.processor.image_processor(images=list(images), return_tensors="pt")[
                "pixel_values"
            ]
            out = tower(pixels.to(self.vlm.device, self.vlm.dtype), output_hidden_states=True)
            return pool(out.hidden_states[self.layer], self.pooling).float()
        text = self.vlm.format_prompt(self.prompt)
        hidden, mask = self._embedder.token_states([text] * len(images), images)
        return pool(hidden, self.pooling, mask).float()
