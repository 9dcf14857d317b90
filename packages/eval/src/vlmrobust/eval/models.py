"""Models of an evaluation by role: a spec string, the role it is loaded as, and its family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from vlmrobust.eval.protocols.base import Role

ROLES: tuple[Role, ...] = ("scorer", "vlm", "embedder")


@dataclass(frozen=True)
class ModelEntry:
    """One model of an evaluation.

    Attributes:
        spec: model spec (``open_clip:<arch>@<tag-or-path>``, ``hf:<repo-or-dir>``).
        role: ``scorer`` (CLIP-style), ``vlm`` (generative) or ``embedder`` (VLM2Vec-style).
        name: model key in the results store (default: the spec).
        family: family of its robustness line (e.g. ``clip``, ``vlm``), stored in the cells' extra.
        seed: random-init seed for specs without weights (tiny test models).
    """

    spec: str
    role: Role = "scorer"
    name: str = ""
    family: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"model {self.spec!r}: unknown role {self.role!r}; valid: {', '.join(ROLES)}")
        if not self.name:
            object.__setattr__(self, "name", self.spec)


def load_model(entry: ModelEntry, device: torch.device, dtype: torch.dtype) -> Any:
    """Load ``entry`` through the adapter of its role (``load_scorer``, ``load_vlm``, ``load_embedder``)."""
    from vlmrobust.models.registry import load_embedder, load_scorer

    if entry.role == "scorer":
        return load_scorer(entry.spec, device=device, dtype=dtype, seed=entry.seed).eval()
    if entry.role == "vlm":
        from vlmrobust.models.hf_vlm import load_vlm

        return load_vlm(entry.spec, device=device, dtype=dtype)
    return load_embedder(entry.spec, device=device, dtype=dtype)
