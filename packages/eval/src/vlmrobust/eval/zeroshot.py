"""Zero-shot classification with an image-text scorer: prompt-ensembled class heads and predictions."""

from __future__ import annotations

from collections.abc import Sequence

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
