"""Attention backend decision: flash-attention 2 only with CUDA + flash_attn + fp16/bf16."""

from __future__ import annotations

import itertools

import pytest
import torch

from vlmrobust.models.attention import select_attention


def test_auto_picks_flash_only_when_all_conditions_hold() -> None:
    for device, flash, dtype in itertools.product(
        ("cpu", "cuda", "cuda:1"), (True, False), (torch.float32, torch.float16, torch.bfloat16)
    ):
        got = select_attention("auto", device, dtype, flash_available=flash)
        ok = device.startswith("cuda") and flash and dtype != torch.float32
        assert got == ("flash_attention_2" if ok else "sdpa"), (device, flash, dtype)


def test_explicit_choices_are_honoured() -> None:
    assert select_attention("sdpa", "cuda", torch.bfloat16, flash_available=True) == "sdpa"
    assert select_attention("eager", "cpu", torch.float32) == "eager"
    assert (
        select_attention("flash_attention_2", "cuda", torch.bfloat16, flash_available=True)
        == "flash_attention_2"
    )


@pytest.mark.parametrize(
    ("device", "flash", "dtype", "missing"),
    [
        ("cpu", True, torch.bfloat16, "CUDA device"),
        ("cuda", False, torch.bfloat16, r"pip install 'vlmrobust-models\[flash\]'"),
        ("cuda", True, torch.float32, "torch.bfloat16"),
    ],
)
def test_explicit_flash_that_cannot_run_names_the_missing_piece(device, flash, dtype, missing) -> None:
    with pytest.raises(ValueError, match=missing):
        select_attention("flash_attention_2", device, dtype, flash_available=flash)


def test_unknown_choice_suggests() -> None:
    with pytest.raises(ValueError, match="Did you mean 'sdpa'"):
        select_attention("spda", "cpu", torch.float32)  # type: ignore[arg-type]
