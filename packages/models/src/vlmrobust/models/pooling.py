"""Pooling of token hidden states into one vector per sample (padding-aware)."""

from __future__ import annotations

from typing import Literal, get_args

import torch

Pooling = Literal["cls", "mean_patch", "last_token", "mean_token"]
POOLINGS: tuple[str, ...] = get_args(Pooling)


def last_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Hidden state of each sequence's last real token, for left or right padding alike.

    Args:
        hidden: token states [B, L, D].
        attention_mask: 1 for real tokens, 0 for padding, [B, L]; every row needs a real token.

    Returns:
        [B, D].
    """
    mask = attention_mask.bool()
    if not mask.any(dim=1).all():
        raise ValueError("attention_mask has a row without any real token")
    length = mask.shape[1]
    # position of the last 1 = L - 1 - (index of the first 1 in the reversed row)
    last = length - 1 - mask.flip(1).int().argmax(dim=1)  # [B]
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def mean_token_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real tokens' states [B, L, D] -> [B, D] (padding excluded)."""
    weights = attention_mask.to(hidden.dtype).unsqueeze(-1)  # [B, L, 1]
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1)


def pool(hidden: torch.Tensor, pooling: Pooling, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Pool token states [B, L, D] into [B, D].

    Args:
        hidden: token states [B, L, D]; for ``cls``/``mean_patch``, a vision tower's states with the class
            token at position 0 followed by the patches.
        pooling: ``cls`` (position 0), ``mean_patch`` (mean of positions 1:), ``last_token`` (last real
            token), ``mean_token`` (mean of real tokens).
        attention_mask: [B, L] for the token poolings; ``None`` = no padding.
    """
    if pooling not in POOLINGS:
        from vlmrobust.core.suggest import did_you_mean

        raise ValueError(f"unknown pooling {pooling!r}. {did_you_mean(str(pooling), POOLINGS, 'poolings')}")
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean_patch":
        return hidden[:, 1:].mean(1)
    if attention_mask is None:
        attention_mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=hidden.device)
    if pooling == "last_token":
        return last_token_pool(hidden, attention_mask)
    return mean_token_pool(hidden, attention_mask)
