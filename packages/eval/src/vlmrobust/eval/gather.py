"""Exact per-sample metrics across ranks: gather predictions and drop sampler padding by sample index."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class PredictionBuffer:
    """Per-sample outputs of one eval set on one rank, accumulated over batches."""

    index: list[Tensor] = field(default_factory=list)  # dataset positions, [B] int64 each
    pred: list[Tensor] = field(default_factory=list)  # predicted class index, [B] int64
    label: list[Tensor] = field(default_factory=list)  # reference label (first label if multi-label), [B]
    correct: list[Tensor] = field(default_factory=list)  # whether the prediction counts as correct, [B] bool

    def add(self, index: Tensor, pred: Tensor, label: Tensor, correct: Tensor) -> None:
        """Append one batch (any device; stored on CPU)."""
        for name, value in (("index", index), ("pred", pred), ("label", label), ("correct", correct)):
            getattr(self, name).append(value.detach().reshape(-1).cpu())

    def stacked(self) -> Tensor:
        """Return the local rows as an ``[N, 4]`` int64 tensor (index, pred, label, correct)."""
        if not self.index:
            return torch.empty(0, 4, dtype=torch.long)
        cols = [torch.cat(getattr(self, name)).long() for name in ("index", "pred", "label", "correct")]
        return torch.stack(cols, dim=1)


def gather_rows(rows: Tensor, all_gather) -> Tensor:
    """All-gather ``[N_r, 4]`` rows of different lengths from every rank and de-duplicate by index.

    ``all_gather`` is ``LightningModule.all_gather`` (or any function with its semantics: identity on one
    process, stacked ``[world, ...]`` otherwise). Rows are padded to the longest rank with index ``-1``,
    gathered, unpadded, then the first row of every sample index is kept, so samples that a
    ``DistributedSampler`` duplicated to even out ranks are counted once. Returns rows sorted by index.
    """
    local_len = torch.tensor([rows.shape[0]], dtype=torch.long, device=rows.device)
    lengths = all_gather(local_len).reshape(-1)
    max_len = int(lengths.max())
    padded = torch.full((max_len, rows.shape[1]), -1, dtype=rows.dtype, device=rows.device)
    padded[: rows.shape[0]] = rows
    gathered = all_gather(padded).reshape(-1, max_len, rows.shape[1])  # [world, max_len, 4]
    every = torch.cat([gathered[r, : int(n)] for r, n in enumerate(lengths)]).cpu()
    order = torch.argsort(every[:, 0], stable=True)
    every = every[order]
    keep = torch.ones(every.shape[0], dtype=torch.bool)
    keep[1:] = every[1:, 0] != every[:-1, 0]
    return every[keep]
