"""vlmrobust.models: role-based adapters (ImageTextScorer, GenerativeVLM, EmbeddingModel, FeatureExtractor), registry, tiny models.

The public names below are imported lazily, so ``import vlmrobust.models`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModelSpec": "vlmrobust.models.spec",
    "parse_spec": "vlmrobust.models.spec",
    "list_models": "vlmrobust.models.registry",
    "load_scorer": "vlmrobust.models.registry",
    "ImageTextScorer": "vlmrobust.models.protocols",
    "OpenClipScorer": "vlmrobust.models.openclip",
    "GenerativeVLM": "vlmrobust.models.protocols",
    "HFGenerativeVLM": "vlmrobust.models.hf_vlm",
    "ContinuationScores": "vlmrobust.models.protocols",
    "load_vlm": "vlmrobust.models.hf_vlm",
    "select_attention": "vlmrobust.models.attention",
    "HFClipScorer": "vlmrobust.models.hf_clip",
    "EmbeddingModel": "vlmrobust.models.protocols",
    "FeatureExtractor": "vlmrobust.models.protocols",
    "HFEmbeddingModel": "vlmrobust.models.embedding",
    "TimmFeatureExtractor": "vlmrobust.models.timm_features",
    "load_embedder": "vlmrobust.models.registry",
    "load_feature_extractor": "vlmrobust.models.registry",
    "HFVLMFeatureExtractor": "vlmrobust.models.embedding",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vlmrobust.models' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
