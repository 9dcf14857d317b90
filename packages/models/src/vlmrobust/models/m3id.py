"""Multi-Modal Mutual-Information Decoding (M3ID, Favero et al. 2024) for ``HFGenerativeVLM``.

Greedy decoding that "reminds" the model of the image (clip_erroneous_agreements §5.1). At generated
token t = 1, 2, … let l_c be the next-token log-probabilities with the image and l_u those of the same
prompt without any image (the language prior, ``format_prompt(prompt, with_image=False)``). When the
model is not confident, ``max_k (l_c)_k < log α``, the token is the argmax of

    l_c + (1 − exp(−λt)) / exp(−λt) · (l_c − l_u),

otherwise the argmax of l_c; decoding stops at EOS (or after ``max_new_tokens``). The correction weight
``exp(λt) − 1`` is 0 at λ = 0, so M3ID then reduces to greedy decoding.

Both streams keep a KV cache: the B image prompts and the B text-only prompts are each left-padded into
one batch and encoded once (``collate_prefixes``, explicit position ids as in
``vlmrobust.models.batched_scoring``), then every step feeds the chosen token to both. The cost is two
prefix forwards plus two one-token forwards per generated token — about twice plain cached greedy
decoding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from vlmrobust.models.batched_scoring import collate_prefixes, keep_logits, prefix_position_ids
from vlmrobust.models.hf_vlm import HFGenerativeVLM


def m3id_scores(l_c: Tensor, l_u: Tensor, t: int, alpha: float, lam: float) -> Tensor:
    """M3ID's token scores [B, V] at generated token ``t`` (1-based) from log-probs with / without image.

    Rows whose top log-probability is below ``log(alpha)`` get ``l_c + (exp(λt) − 1)·(l_c − l_u)``
    (``(1 − exp(−λt)) / exp(−λt)`` written without the division); the others keep ``l_c``.
    """
    weight = math.expm1(lam * t)
    unsure = l_c.amax(-1, keepdim=True) < math.log(alpha)  # [B, 1]
    return torch.where(unsure, l_c + weight * (l_c - l_u), l_c)


class _Stream:
    """One batch of left-padded prompts decoded token by token from its KV cache."""

    def __init__(self, model: torch.nn.Module, batch: dict[str, Tensor]) -> None:
        self.model = model
        self.mask = batch["attention_mask"]
        positions = prefix_position_ids(model, batch)  # [B, P] or [3, B, P]
        b = self.mask.shape[0]
        self.next_position = positions.amax(-1).reshape(-1, b).amax(0) + 1  # [B]
        out = model(**batch, position_ids=positions, use_cache=True, **keep_logits(model, 1))
        self.cache = out.past_key_values
        self.logprobs = out.logits[:, -1].float().log_softmax(-1)  # [B, V]

    def feed(self, tokens: Tensor) -> None:
        """Append ``tokens`` [B] and compute the next-token log-probs."""
        self.mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=1)  # [B, P + t]
        out = self.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask,
            position_ids=self.next_position[:, None],
            past_key_values=self.cache,
            use_cache=True,
        )
        self.next_position = self.next_position + 1
        self.cache = out.past_key_values
        self.logprobs = out.logits[:, -1].float().log_softmax(-1)


def _eos_ids(vlm: HFGenerativeVLM) -> set[int]:
    """Token ids that end an answer: the generation config's EOS (one or several), else the tokenizer's."""
    eos: Any = getattr(getattr(vlm.model, "generation_config", None), "eos_token_id", None)
    if eos is None:
        eos = vlm.tokenizer.eos_token_id
    return {int(e) for e in (eos if isinstance(eos, Sequence) else [eos]) if e is not None}


@torch.no_grad()
def generate_m3id(
    vlm: HFGenerativeVLM,
    prompts: Sequence[str],
    images: Sequence[Image.Image],
    max_new_tokens: int = 16,
    alpha: float = 0.6,
    lam: float = 0.15,
) -> list[str]:
    """Answer each prompt about its image with M3ID decoding (see the module docstring).

    Args:
        vlm: the generative VLM.
        prompts: user messages, one per image (chat template applied here).
        images: one image per prompt.
        max_new_tokens: generation budget per answer.
        alpha: confidence threshold: the correction applies while ``max_k l_c < log(alpha)``.
        lam: λ, how fast the correction weight ``exp(λt) − 1`` grows with the token index t.

    Returns:
        The decoded answers (up to the first EOS), special tokens removed, stripped.

    Raises:
        TypeError: ``prompts`` is a single str.
        ValueError: not one image per prompt, ``alpha`` not positive, or ``max_new_tokens`` < 1.
    """
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings, got a single str; wrap it in a list")
    if len(images) != len(prompts):
        raise ValueError(f"got {len(images)} images for {len(prompts)} prompts; give one image per prompt")
    if alpha <= 0 or max_new_tokens < 1:
        raise ValueError(f"M3ID needs alpha > 0 and max_new_tokens >= 1, got {alpha} and {max_new_tokens}")
    if not prompts:
        return []
    pad = vlm.tokenizer.pad_token_id if vlm.tokenizer.pad_token_id is not None else 0
    vlm.reset_position_state()
    with_image = _Stream(
        vlm.model,
        collate_prefixes([vlm.encode_prompt(i, p) for i, p in zip(images, prompts, strict=True)], pad),
    )
    text_only = _Stream(vlm.model, collate_prefixes([vlm.encode_prompt(None, p) for p in prompts], pad))
    eos_ids = _eos_ids(vlm)
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=with_image.mask.device)
    done = torch.zeros(len(prompts), dtype=torch.bool, device=eos.device)  # [B]: EOS already emitted
    tokens: list[Tensor] = []
    for t in range(1, max_new_tokens + 1):
        scores = m3id_scores(with_image.logprobs, text_only.logprobs, t, alpha, lam)  # [B, V]
        token = scores.argmax(-1).masked_fill(done, pad)  # [B]
        tokens.append(token)
        done = done | torch.isin(token, eos)
        if bool(done.all()) or t == max_new_tokens:
            break
        with_image.feed(token)
        text_only.feed(token)
    generated = torch.stack(tokens, dim=1).tolist()  # [B, T]
    answers = []
    for row in generated:
        end = next((j for j, tok in enumerate(row) if tok in eos_ids), len(row))
        answers.append(vlm.tokenizer.decode(row[:end], skip_special_tokens=True).strip())
    return answers
