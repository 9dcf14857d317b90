"""Zero-shot class heads of an image-text scorer: prompt-ensembled text embeddings, cached on disk."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from vlmrobust.models.protocols import ImageTextScorer


@torch.no_grad()
def build_zero_shot_head(
    scorer: ImageTextScorer,
    class_names: Sequence[str],
    templates: Sequence[str],
    batch_size: int = 256,
) -> Tensor:
    """Return the zero-shot classifier weights ``[C, D]`` for ``class_names``.

    Each class weight is the mean of the L2-normalised text embeddings of ``template.format(name)`` over
    all ``templates`` (the CLIP prompt ensemble), normalised again.

    Args:
        scorer: the image-text model.
        class_names: the eval set's class names, in label order.
        templates: prompt templates containing ``{}`` for the class name.
        batch_size: prompts encoded per forward pass.
    """
    if not templates or any("{}" not in t for t in templates):
        raise ValueError(
            f"every template needs a '{{}}' placeholder for the class name, got {list(templates)}"
        )
    prompts = [t.format(name) for name in class_names for t in templates]
    feats = torch.cat(
        [
            scorer.encode_text(prompts[i : i + batch_size], normalize=True)
            for i in range(0, len(prompts), batch_size)
        ]
    )
    feats = feats.view(len(class_names), len(templates), -1).mean(dim=1)  # [C, T, D] -> [C, D]
    return torch.nn.functional.normalize(feats, dim=-1)


def zero_shot_logits(scorer: ImageTextScorer, images: Tensor, head: Tensor) -> Tensor:
    """Return ``[B, C]`` logits (the scorer's scale and bias applied) of ``images`` against ``head``."""
    image_features = scorer.encode_image(images, normalize=True)
    return scorer.similarity(image_features, head.to(image_features.dtype))


def head_cache_key(model: str, class_names: Sequence[str], templates: Sequence[str]) -> str:
    """Hex digest identifying a head by (model spec, class names, templates)."""
    blob = json.dumps({"model": model, "classes": list(class_names), "templates": list(templates)})
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:32]


def cached_zero_shot_head(
    scorer: ImageTextScorer,
    class_names: Sequence[str],
    templates: Sequence[str],
    cache_dir: str | os.PathLike[str] | None,
    batch_size: int = 256,
) -> Tensor:
    """``build_zero_shot_head``, read from / written to ``cache_dir`` when given.

    The file ``<cache_dir>/<key>.safetensors`` is keyed by (``scorer.spec``, class names, templates), so
    only use a cache for models whose weights the spec fixes (pretrained tags, checkpoint files); a model
    being trained must not use one. Written atomically; read back as float32 on the scorer's device.

    Args:
        scorer: the image-text model (its ``spec`` is part of the key).
        class_names: the head's class names, in column order.
        templates: prompt templates with ``{}``.
        cache_dir: folder of cached heads; ``None`` computes without caching.
        batch_size: prompts encoded per forward pass.
    """
    if cache_dir is None:
        return build_zero_shot_head(scorer, class_names, templates, batch_size)
    from safetensors.torch import load_file, save_file

    from vlmrobust.core.atomic import atomic_write

    path = Path(cache_dir) / f"{head_cache_key(scorer.spec, class_names, templates)}.safetensors"
    device = next(scorer.model.parameters()).device
    if path.is_file():
        head = load_file(str(path))["head"]
        if head.shape[0] != len(class_names):
            raise ValueError(f"{path}: cached head has {head.shape[0]} rows for {len(class_names)} classes")
        return head.to(device)
    head = build_zero_shot_head(scorer, class_names, templates, batch_size)
    atomic_write(path, lambda tmp: save_file({"head": head.float().cpu().contiguous()}, str(tmp)))
    return head
