"""Model registry: list known model specs and load a model for a role from its spec string."""

from __future__ import annotations

import os

import torch

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.models.openclip import OpenClipScorer, build_open_clip_scorer
from vlmrobust.models.spec import BACKENDS, Backend, ModelSpec, parse_spec


def list_models(backend: Backend | None = None) -> list[str]:
    """Return the spec strings of the registered models.

    open_clip: vlmrobust's tiny configs first, then every open_clip architecture (random init), then every
    ``open_clip:<arch>@<tag>`` pretrained pair open_clip knows (listed whether or not the weights are cached).

    Args:
        backend: only this backend's models; ``None`` for all.

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
        specs += [f"open_clip:{arch}" for arch in open_clip_architectures() if arch not in tiny]
        specs += [f"open_clip:{arch}@{tag}" for arch, tag in open_clip.list_pretrained()]
    return list(dict.fromkeys(specs))


def load_scorer(
    spec: str | ModelSpec,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    cache_dir: str | os.PathLike[str] | None = None,
    seed: int | None = None,
) -> OpenClipScorer:
    """Load an image–text scorer (CLIP-style dual encoder) from a spec string.

    Args:
        spec: ``open_clip:<arch>[@<pretrained-tag-or-checkpoint-path>]`` (no ``@…`` = random init).
        device: device of the returned model.
        dtype: floating dtype of the parameters.
        cache_dir: Hugging Face cache searched for pretrained tags (default: the hub cache);
            ``HF_HUB_OFFLINE=1`` forbids downloading what is not there.
        seed: seed of the random init (global RNG untouched); ``None`` uses the global RNG.

    Returns:
        The scorer, in eval mode.

    Raises:
        ValueError: bad spec or checkpoint that does not fit the architecture.
        FileNotFoundError: missing checkpoint file, or uncached weights while offline.
        NotImplementedError: ``hf:`` scorers are not available yet.
    """
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if parsed.backend == "open_clip":
        return build_open_clip_scorer(parsed, device=device, dtype=dtype, cache_dir=cache_dir, seed=seed)
    if parsed.backend == "hf":
        raise NotImplementedError(
            f"{parsed}: Hugging Face CLIP/SigLIP scorers are not implemented yet (issue 4)"
        )
    raise ValueError(
        f"{parsed}: timm models are image backbones and cannot score image-text pairs; "
        "use an open_clip: or hf: spec for a scorer"
    )
