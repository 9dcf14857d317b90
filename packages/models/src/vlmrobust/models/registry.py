"""Model registry: list known model specs and load a model for a role from its spec string."""

from __future__ import annotations

import os
from typing import Any

import torch

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.models.embedding import (
    VLM2VEC_QUERY_TEMPLATE,
    VLM2VEC_TARGET_TEMPLATE,
    HFEmbeddingModel,
    HFVLMFeatureExtractor,
)
from vlmrobust.models.hf_clip import HFClipScorer, build_hf_scorer
from vlmrobust.models.openclip import OpenClipScorer, build_open_clip_scorer
from vlmrobust.models.pooling import Pooling
from vlmrobust.models.spec import BACKENDS, Backend, ModelSpec, parse_spec
from vlmrobust.models.timm_features import TimmFeatureExtractor


def list_models(
    backend: Backend | None = None, cache_dir: str | os.PathLike[str] | None = None, available: bool = False
) -> list[str]:
    """Return the spec strings of the registered models.

    open_clip: vlmrobust's tiny configs first, then every open_clip architecture (random init), then every
    ``open_clip:<arch>@<tag>`` pretrained pair open_clip knows (listed whether or not the weights are cached).
    hf: the model repos present in the Hugging Face cache (loadable offline). timm: every timm architecture.
    With ``available``, only what loads offline with its weights: the tiny configs (random init by design),
    the pretrained pairs whose file is cached, the cached ``hf:`` repos and the timm models cached as
    ``timm/<name>``.

    Args:
        backend: only this backend's models; ``None`` for all.
        cache_dir: Hugging Face cache scanned for cached weights (default: the hub cache).
        available: only models whose weights are on this machine.

    Raises:
        ValueError: unknown backend (with the valid choices).
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"unknown model backend {backend!r}. {did_you_mean(backend, BACKENDS, 'backends')}")
    specs: list[str] = []
    if backend in (None, "open_clip"):
        import open_clip

        from vlmrobust.models.architectures import open_clip_architectures, tiny_architectures

        tiny = tiny_architectures()
        specs += [f"open_clip:{arch}" for arch in tiny]
        if available:
            from vlmrobust.models.checkpoints import cached_open_clip_file

            pairs = [(a, t) for a, t in open_clip.list_pretrained() if cached_open_clip_file(a, t, cache_dir)]
        else:
            specs += [f"open_clip:{arch}" for arch in open_clip_architectures() if arch not in tiny]
            pairs = open_clip.list_pretrained()
        specs += [f"open_clip:{arch}@{tag}" for arch, tag in pairs]
    cached = cached_hf_models(cache_dir) if backend in (None, "hf") or available else []  # one cache scan
    if backend in (None, "hf"):
        specs += [f"hf:{repo}" for repo in cached]
    if backend in (None, "timm"):
        if available:
            specs += [f"timm:{repo.removeprefix('timm/')}" for repo in cached if repo.startswith("timm/")]
        else:
            import timm

            specs += [f"timm:{name}" for name in timm.list_models()]
    return list(dict.fromkeys(specs))


def cached_hf_models(cache_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Repo ids of the models in the Hugging Face cache (sorted); ``[]`` when there is no cache."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir)
    except CacheNotFound:
        return []
    return sorted(r.repo_id for r in info.repos if r.repo_type == "model")


def load_scorer(
    spec: str | ModelSpec,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    cache_dir: str | os.PathLike[str] | None = None,
    seed: int | None = None,
) -> OpenClipScorer | HFClipScorer:
    """Load an image–text scorer (CLIP-style dual encoder) from a spec string.

    Args:
        spec: ``open_clip:<arch>[@<pretrained-tag-or-checkpoint-path>]`` (no ``@…`` = random init), or
            ``hf:<repo-id-or-local-dir>`` of a Hugging Face CLIP/SigLIP-style dual encoder.
        device: device of the returned model.
        dtype: floating dtype of the parameters.
        cache_dir: Hugging Face cache searched for pretrained tags and hf: repo ids (default: the hub cache);
            ``HF_HUB_OFFLINE=1`` forbids downloading what is not there.
        seed: seed of the random init (global RNG untouched); ``None`` uses the global RNG (open_clip only).

    Returns:
        The scorer, in eval mode.

    Raises:
        ValueError: bad spec or checkpoint that does not fit the architecture.
        FileNotFoundError: missing checkpoint file or model directory, or uncached weights while offline.
    """
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if parsed.backend == "open_clip":
        return build_open_clip_scorer(parsed, device=device, dtype=dtype, cache_dir=cache_dir, seed=seed)
    if parsed.backend == "hf":
        return build_hf_scorer(parsed, device=device, dtype=dtype, cache_dir=cache_dir)
    raise ValueError(
        f"{parsed}: timm models are image backbones and cannot score image-text pairs; "
        "use an open_clip: or hf: spec for a scorer"
    )


def load_embedder(
    spec: str | ModelSpec,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    normalize: bool = True,
    query_template: str = VLM2VEC_QUERY_TEMPLATE,
    target_template: str = VLM2VEC_TARGET_TEMPLATE,
    layer: int = -1,
) -> HFEmbeddingModel:
    """Load a VLM2Vec-style embedding model from ``hf:<repo-id-or-local-dir>``.

    Args:
        spec: ``hf:`` spec of an image-text-to-text model.
        device: device of the model.
        dtype: parameter dtype.
        normalize: L2-normalise embeddings.
        query_template: query format with ``{image}`` and ``{text}`` fields.
        target_template: target format with ``{image}`` and ``{text}`` fields.
        layer: LM hidden-state index pooled (``-1`` = last layer).
    """
    from vlmrobust.models.hf_vlm import load_vlm

    vlm = load_vlm(spec, device=device, dtype=dtype)
    return HFEmbeddingModel(vlm, normalize, query_template, target_template, layer)


def load_feature_extractor(
    spec: str | ModelSpec,
    pooling: Pooling = "cls",
    layer: int = -1,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    pretrained: bool = True,
    seed: int | None = None,
    timm_kwargs: dict[str, Any] | None = None,
) -> HFVLMFeatureExtractor | TimmFeatureExtractor:
    """Load a frozen feature extractor for linear probes.

    Args:
        spec: ``timm:<name>`` (``cls``/``mean_patch``) or ``hf:<repo-or-dir>`` of a VLM (all four poolings).
        pooling: ``cls``, ``mean_patch``, ``last_token`` or ``mean_token``.
        layer: hidden-state index (``-1`` = last).
        device: device of the model.
        dtype: parameter dtype.
        pretrained: timm only: load pretrained weights (offline-first) or random init.
        seed: timm only: seed of a random init.
        timm_kwargs: timm only: extra ``timm.create_model`` arguments.
    """
    from vlmrobust.models.hf_vlm import load_vlm
    from vlmrobust.models.timm_features import build_timm_extractor

    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if parsed.backend == "timm":
        return build_timm_extractor(
            parsed,
            pooling,
            layer,
            pretrained,
            device,
            dtype,
            seed,
            timm_kwargs,  # type: ignore[arg-type]
        )
    if parsed.backend == "hf":
        return HFVLMFeatureExtractor(load_vlm(parsed, device=device, dtype=dtype), pooling, layer)
    raise ValueError(
        f"{parsed}: feature extraction supports timm: and hf: specs; for open_clip use the scorer's "
        "encode_image features"
    )
