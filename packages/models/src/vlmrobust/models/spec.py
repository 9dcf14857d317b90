"""Model spec strings: one string names one model across backends.

Forms::

    open_clip:<arch>[@<pretrained-tag-or-checkpoint-path>]   # no "@…" = random init
    hf:<repo-id-or-local-dir>
    timm:<name>
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from vlmrobust.core.suggest import did_you_mean

Backend = Literal["open_clip", "hf", "timm"]
BACKENDS: tuple[str, ...] = get_args(Backend)


@dataclass(frozen=True)
class ModelSpec:
    """A parsed model spec.

    Attributes:
        backend: which library builds the model.
        name: open_clip architecture, Hugging Face repo id or local directory, or timm model name.
        pretrained: open_clip pretrained tag or local checkpoint path; ``None`` means random init
            (always ``None`` for ``hf`` and ``timm``).
    """

    backend: Backend
    name: str
    pretrained: str | None = None

    def __str__(self) -> str:
        suffix = f"@{self.pretrained}" if self.pretrained is not None else ""
        return f"{self.backend}:{self.name}{suffix}"


def parse_spec(spec: str) -> ModelSpec:
    """Parse a model spec string.

    Args:
        spec: e.g. ``"open_clip:ViT-B-32@laion2b_s34b_b79k"``, ``"open_clip:vlmrobust-tiny-clip"``,
            ``"open_clip:ViT-B-32@/ckpts/last.safetensors"``, ``"hf:openai/clip-vit-base-patch32"``,
            ``"timm:vit_small_patch16_224"``.

    Returns:
        The parsed spec. open_clip architectures written with ``/`` (``ViT-B/32``) are normalised
        to open_clip's file names (``ViT-B-32``).

    Raises:
        ValueError: on a missing or unknown backend prefix, an empty name or pretrained part, or an
            unknown open_clip architecture; the message lists the valid choices.
    """
    if not isinstance(spec, str):
        raise TypeError(f"model spec must be a string, got {type(spec).__name__}: {spec!r}")
    backend, sep, rest = spec.strip().partition(":")
    if not sep:
        raise ValueError(
            f"model spec {spec!r} has no backend prefix; write '<backend>:<name>' "
            f"(e.g. 'open_clip:ViT-B-32@openai'). Valid backends: {', '.join(BACKENDS)}."
        )
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown model backend {backend!r} in spec {spec!r}. {did_you_mean(backend, BACKENDS, 'backends')}"
        )
    if backend == "open_clip":
        return _parse_open_clip(spec, rest)
    if not rest:
        raise ValueError(f"model spec {spec!r} names no model after '{backend}:'")
    return ModelSpec(backend=backend, name=rest)  # type: ignore[arg-type]


def _parse_open_clip(spec: str, rest: str) -> ModelSpec:
    from vlmrobust.models.architectures import open_clip_architectures

    # Architectures never contain "@", so the first one separates arch from pretrained (paths may hold "@").
    arch, at, pretrained = rest.partition("@")
    arch = arch.replace("/", "-")
    if at and not pretrained:
        raise ValueError(
            f"model spec {spec!r} has an empty pretrained part after '@'; drop the '@' for random init"
        )
    architectures = open_clip_architectures()
    if arch not in architectures:
        raise ValueError(
            f"unknown open_clip architecture {arch!r} in spec {spec!r}. "
            f"{did_you_mean(arch, architectures, 'open_clip architectures')}"
        )
    return ModelSpec(backend="open_clip", name=arch, pretrained=pretrained or None)
