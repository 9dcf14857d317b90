"""Likelihood scoring of many multiple-choice questions at once, each question's prefix shared by its options.

The B prompts (image + templated text) are left-padded into one batch and encoded in one forward with a KV
cache; each question's cache rows are then repeated for its K_b options, and all sum(K_b) options are scored in
a second forward, right-padded after the (left-padded) prefix. Position ids are passed explicitly in both
forwards, so padding never shifts a real token's position: 1-D positions count the real tokens of each row;
models with multimodal RoPE (Qwen2-VL's ``get_rope_index``) get their 3-D prefix positions from the attention
mask, and an option's text tokens continue after the largest prefix position of its question.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch

from vlmrobust.models.protocols import ContinuationScores


def keep_logits(model: torch.nn.Module, n: int) -> dict[str, int]:
    """``{"logits_to_keep": n}`` where ``model.forward`` takes it (skips the LM head elsewhere), else ``{}``."""
    params = inspect.signature(model.forward).parameters
    return {"logits_to_keep": n} if "logits_to_keep" in params else {}


def collate_prefixes(
    encodings: Sequence[dict[str, torch.Tensor]], pad_token_id: int
) -> dict[str, torch.Tensor]:
    """Merge single-prompt processor outputs into one left-padded batch.

    Per-token tensors (shaped like each prompt's ``input_ids`` [1, P_b]) are left-padded to the longest prompt:
    ``input_ids`` with ``pad_token_id``, everything else (``attention_mask``, ``mm_token_type_ids``) with 0.
    Image tensors of the prompts that have them are concatenated along dim 0 in prompt order (the models scatter
    image features into image tokens in that order); where their dim 1 differs (Idefics3's tiles per image) it is
    zero-padded first, the padding images those models drop.

    Args:
        encodings: processor outputs of one prompt each, ``input_ids`` [1, P_b] and ``attention_mask`` [1, P_b].
        pad_token_id: id written into the padded ``input_ids`` positions (never attended).

    Returns:
        The batch: per-token tensors [B, max P_b], image tensors concatenated.
    """
    longest = max(enc["input_ids"].shape[1] for enc in encodings)
    token_keys = [k for k, v in encodings[0].items() if v.shape == encodings[0]["input_ids"].shape]
    batch: dict[str, torch.Tensor] = {}
    for key in token_keys:
        fill = pad_token_id if key == "input_ids" else 0
        rows = [
            torch.nn.functional.pad(enc[key], (longest - enc[key].shape[1], 0), value=fill)
            for enc in encodings
        ]
        batch[key] = torch.cat(rows)  # [B, P]
    image_keys = {k for enc in encodings for k in enc if k not in token_keys}
    for key in sorted(image_keys):
        parts = [enc[key] for enc in encodings if key in enc]
        if len({p.shape[1:] for p in parts}) > 1:  # differing images per prompt: pad dim 1 with zero images
            most = max(p.shape[1] for p in parts)
            parts = [
                torch.cat([p, p.new_zeros((p.shape[0], most - p.shape[1], *p.shape[2:]))], 1) for p in parts
            ]
        batch[key] = torch.cat(parts)
    return batch


def prefix_position_ids(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Position ids of a left-padded prefix batch: [B, P], or [3, B, P] for multimodal-RoPE models.

    Padding positions get 0, so every row's largest position is that of its last real token.
    """
    mask = batch["attention_mask"]
    rope_index = getattr(getattr(model, "model", None), "get_rope_index", None)
    if rope_index is None:
        return (mask.long().cumsum(-1) - 1).clamp(min=0)  # [B, P]
    if "mm_token_type_ids" not in batch:
        raise ValueError(
            f"{type(model).__name__} uses multimodal RoPE, whose positions need the processor's "
            "'mm_token_type_ids'; the processor output has only " + ", ".join(sorted(batch))
        )
    positions, _ = rope_index(
        batch["input_ids"],
        mm_token_type_ids=batch["mm_token_type_ids"],
        image_grid_thw=batch.get("image_grid_thw"),
        attention_mask=mask,
    )
    return positions.masked_fill(mask == 0, 0)  # [3, B, P]


@torch.no_grad()
def score_options(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    options: Sequence[Sequence[Sequence[int]]],
    pad_token_id: int,
) -> list[ContinuationScores]:
    """Log-likelihood of every option of every question from a left-padded prefix batch, in two forwards.

    Args:
        model: an ``AutoModelForImageTextToText`` model whose cache supports ``batch_select_indices``.
        batch: the collated prefixes (``collate_prefixes``), B questions, on the model's device.
        options: per question, the token ids of each of its K_b options (each non-empty).
        pad_token_id: id written into the right-padded option positions (masked, outputs dropped).

    Returns:
        One ``ContinuationScores`` per question, [K_b] each.

    Raises:
        RuntimeError: some option is longer than one token and the model returned no selectable KV cache.
    """
    device, mask = batch["input_ids"].device, batch["attention_mask"]
    positions = prefix_position_ids(model, batch)
    out = model(**batch, position_ids=positions, use_cache=True, **keep_logits(model, 1))
    first = (
        out.logits[:, -1].float().log_softmax(-1)
    )  # [B, V]: each question's first option-token distribution
    counts = torch.tensor([len(o) for o in options], device=device)
    rows = torch.repeat_interleave(
        torch.arange(len(options), device=device), counts
    )  # [N]: question of each option
    flat = [list(ids) for question in options for ids in question]
    lengths = torch.tensor([len(ids) for ids in flat], device=device)  # [N]
    ids = torch.full((len(flat), int(lengths.max())), pad_token_id, dtype=torch.long, device=device)  # [N, A]
    for i, tokens in enumerate(flat):
        ids[i, : len(tokens)] = torch.tensor(tokens, device=device)
    real = torch.arange(ids.shape[1], device=device) < lengths[:, None]  # [N, A]
    logp = torch.zeros(ids.shape, device=device)
    logp[:, 0] = first[rows, ids[:, 0]]
    if ids.shape[1] > 1:
        cache = out.past_key_values
        if cache is None or not hasattr(cache, "batch_select_indices"):
            raise RuntimeError(
                f"{type(model).__name__} returned no selectable KV cache ({type(cache).__name__}), so options "
                "cannot share the prefix; score with loglikelihood(..., shared_prefix=False)"
            )
        cache.batch_select_indices(rows)  # [B, …, P, …] -> [N, …, P, …]: question b's rows repeated K_b times
        # Inputs are option tokens 0..A-2; their outputs predict tokens 1..A-1. They attend to their question's
        # real prefix tokens and to themselves; right padding only follows real tokens and its outputs are dropped.
        step = torch.arange(ids.shape[1] - 1, device=device)
        option_positions = (
            positions.amax(-1).reshape(-1, len(options)).amax(0)[rows, None] + 1 + step
        )  # [N, A-1]
        attention = torch.cat([mask[rows], real[:, :-1].to(mask.dtype)], dim=1)  # [N, P + A-1]
        logits = model(
            input_ids=ids[:, :-1],
            attention_mask=attention,
            position_ids=option_positions,
            past_key_values=cache,
            use_cache=True,
        ).logits  # [N, A-1, V]
        logp[:, 1:] = logits.float().log_softmax(-1).gather(-1, ids[:, 1:, None])[..., 0]
    total = logp.masked_fill(~real, 0).sum(-1).cpu()  # [N]
    lengths = lengths.cpu()
    return [
        ContinuationScores(sum=s, mean=s / n, num_tokens=n)
        for s, n in zip(total.split(counts.tolist()), lengths.split(counts.tolist()), strict=True)
    ]
