"""timm vision encoders as a ``FeatureExtractor`` (CLS or mean-patch features at a chosen block)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, Literal

import torch
from PIL import Image

from vlmrobust.models.spec import ModelSpec


class TimmFeatureExtractor(torch.nn.Module):
    """Frozen features of a timm ViT (``cls``, ``mean_patch``) or CNN (``mean_patch`` = spatial mean).

    Build it with ``load_feature_extractor("timm:<name>")``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        preprocess: Any,
        spec: str,
        pooling: Literal["cls", "mean_patch"] = "cls",
        layer: int = -1,
    ) -> None:
        """Wrap a timm model.

        Args:
            model: a timm model (classifier head removed or ignored).
            preprocess: eval transform, PIL image -> tensor [3, H, W].
            spec: the spec string it came from.
            pooling: ``cls`` (class token, ViTs only) or ``mean_patch`` (mean over patch tokens / positions).
            layer: ``-1`` = final features (after the last norm); otherwise the output of that block
                (``forward_intermediates``, without the final norm).
        """
        super().__init__()
        if pooling not in ("cls", "mean_patch"):
            raise ValueError(
                f"timm feature extractors pool 'cls' or 'mean_patch', got {pooling!r}; "
                "token poolings ('last_token', 'mean_token') need an hf: VLM"
            )
        self.model = model
        self.preprocess = preprocess
        self.spec = spec
        self.pooling = pooling
        self.layer = layer
        self.num_prefix_tokens = int(getattr(model, "num_prefix_tokens", 0))
        if pooling == "cls" and (self.num_prefix_tokens == 0 or getattr(model, "global_pool", "") == "map"):
            raise ValueError(f"{spec} has no class token; use pooling='mean_patch'")

    def _to_batch(self, images: Sequence[Image.Image] | torch.Tensor) -> torch.Tensor:
        if isinstance(images, torch.Tensor):
            return images
        return torch.stack([self.preprocess(im.convert("RGB")) for im in images])

    @torch.no_grad()
    def forward(self, images: Sequence[Image.Image] | torch.Tensor) -> torch.Tensor:
        """Features [B, D] (float32) of PIL images or preprocessed images [B, 3, H, W]."""
        param = next(self.model.parameters())
        x = self._to_batch(images).to(param.device, param.dtype)
        if self.layer == -1:
            out = self.model.forward_features(x)
            if out.ndim == 4:  # CNN: [B, C, H, W]
                return out.float().mean((2, 3))
            prefix, patches = out[:, : self.num_prefix_tokens], out[:, self.num_prefix_tokens :]
        else:
            if not hasattr(self.model, "forward_intermediates"):
                raise ValueError(f"{self.spec} cannot return intermediate layers; use layer=-1")
            (item,) = self.model.forward_intermediates(
                x, indices=[self.layer], output_fmt="NLC", norm=False, intermediates_only=True,
                return_prefix_tokens=self.num_prefix_tokens > 0,
            )  # fmt: skip
            patches, prefix = item if isinstance(item, tuple) else (item, None)
            if patches.ndim == 4:  # CNN stage: [B, C, H, W]
                return patches.float().mean((2, 3))
        if self.pooling == "cls":
            return prefix[:, 0].float()
        return patches.float().mean(1)


def build_timm_extractor(
    spec: ModelSpec,
    pooling: Literal["cls", "mean_patch"] = "cls",
    layer: int = -1,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
) -> TimmFeatureExtractor:
    """Create a timm model (pretrained weights from the HF cache, offline-first) wrapped for feature extraction.

    Args:
        spec: ``timm:<name>[.<pretrained-tag>]``.
        pooling: see ``TimmFeatureExtractor``.
        layer: see ``TimmFeatureExtractor``.
        pretrained: load timm's pretrained weights (from the Hugging Face cache; ``HF_HUB_OFFLINE=1``
            forbids downloading); ``False`` = random init.
        device: device of the model.
        dtype: parameter dtype.
        seed: seed of a random init (global RNG untouched).
        model_kwargs: extra ``timm.create_model`` arguments (e.g. ``img_size``, ``depth`` for tiny variants).
    """
    import timm
    from timm.data import create_transform, resolve_data_config

    from vlmrobust.models.checkpoints import WeightsNotCachedError, enforce_hub_offline

    base = spec.name.split(".", 1)[0]
    if not timm.is_model(base):
        import difflib

        close = difflib.get_close_matches(base, timm.list_models(), n=3, cutoff=0.6)
        hint = f"Did you mean {', '.join(map(repr, close))}? " if close else ""
        raise ValueError(f"unknown timm model {base!r} in {spec}. {hint}`timm.list_models()` lists them all.")
    rng = nullcontext() if seed is None else torch.random.fork_rng(devices=[])
    with rng, enforce_hub_offline():
        if seed is not None:
            torch.manual_seed(seed)
        try:
            model = timm.create_model(spec.name, pretrained=pretrained, num_classes=0, **(model_kwargs or {}))
        except (OSError, RuntimeError) as e:  # LocalEntryNotFoundError, OfflineModeIsEnabled, ...
            if not pretrained:
                raise
            raise WeightsNotCachedError(
                f"cannot load pretrained timm weights for {spec} ({type(e).__name__}: {e}). On a machine with "
                "network, load it once with timm (it caches under the Hugging Face cache) and copy the cache here, "
                "or pass pretrained=False for a random init."
            ) from e
    config = resolve_data_config({}, model=model)
    img_size = getattr(getattr(model, "patch_embed", None), "img_size", None)
    if img_size is not None:
        config["input_size"] = (3, *img_size)  # the built size, which model_kwargs may have changed
        config["crop_pct"] = 1.0
    preprocess = create_transform(**config, is_training=False)
    model = model.to(device=device, dtype=dtype).eval()
    return TimmFeatureExtractor(model, preprocess, str(spec), pooling=pooling, layer=layer).eval()
