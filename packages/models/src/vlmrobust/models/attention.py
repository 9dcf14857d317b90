"""Attention backend selection: SDPA by default, ``flash_attention_2`` only where it can run."""

from __future__ import annotations

import importlib.util
from typing import Literal, get_args

import torch

AttnImplementation = Literal["auto", "sdpa", "eager", "flash_attention_2"]
ATTN_IMPLEMENTATIONS: tuple[str, ...] = get_args(AttnImplementation)
_HALF = (torch.float16, torch.bfloat16)


def flash_attn_installed() -> bool:
    """Whether the ``flash_attn`` package is importable (checked without importing it)."""
    return importlib.util.find_spec("flash_attn") is not None


def select_attention(
    requested: AttnImplementation,
    device: str | torch.device,
    dtype: torch.dtype,
    flash_available: bool | None = None,
) -> str:
    """Choose the ``attn_implementation`` passed to ``from_pretrained``.

    ``"auto"`` gives ``flash_attention_2`` when the device is CUDA, ``flash_attn`` is installed and the dtype
    is fp16/bf16, and ``sdpa`` otherwise. An explicit ``flash_attention_2`` that cannot run raises.

    Args:
        requested: ``"auto"``, ``"sdpa"``, ``"eager"`` or ``"flash_attention_2"``.
        device: device the model will run on.
        dtype: parameter dtype of the model.
        flash_available: override of the ``flash_attn`` installation check (``None`` = check).

    Returns:
        ``"flash_attention_2"``, ``"sdpa"`` or ``"eager"``.

    Raises:
        ValueError: unknown ``requested``, or ``flash_attention_2`` requested where it cannot run (the message
            says which condition fails and how to fix it).
    """
    from vlmrobust.core.optional import install_hint
    from vlmrobust.core.suggest import did_you_mean

    if requested not in ATTN_IMPLEMENTATIONS:
        raise ValueError(
            f"unknown attention implementation {requested!r}. "
            f"{did_you_mean(str(requested), ATTN_IMPLEMENTATIONS, 'attention implementations')}"
        )
    if requested in ("sdpa", "eager"):
        return requested
    is_cuda = torch.device(device).type == "cuda"
    has_flash = flash_attn_installed() if flash_available is None else flash_available
    problems = []
    if not is_cuda:
        problems.append(f"it needs a CUDA device, got {torch.device(device)} (pass device='cuda')")
    if not has_flash:
        problems.append(
            f"the flash_attn package is not installed (install the extra: `{install_hint('vlmrobust-models', 'flash')}`)"
        )
    if dtype not in _HALF:
        problems.append(
            f"it needs dtype torch.float16 or torch.bfloat16, got {dtype} (pass dtype=torch.bfloat16)"
        )
    if not problems:
        return "flash_attention_2"
    if requested == "flash_attention_2":
        raise ValueError(
            "attn_implementation='flash_attention_2' cannot be used: "
            + "; ".join(problems)
            + ". Use attn_implementation='auto' or 'sdpa' to run without it."
        )
    return "sdpa"
