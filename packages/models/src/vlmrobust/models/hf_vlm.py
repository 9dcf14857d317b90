"""Hugging Face generative VLMs (``AutoModelForImageTextToText`` + ``AutoProcessor``) as a ``GenerativeVLM``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from vlmrobust.models.attention import AttnImplementation, select_attention
from vlmrobust.models.batched_scoring import collate_prefixes, keep_logits, score_options
from vlmrobust.models.hf_loading import from_pretrained_offline
from vlmrobust.models.protocols import ContinuationScores
from vlmrobust.models.spec import ModelSpec, parse_spec


def require_chat_template(processor: Any, spec: str) -> None:
    """Raise ``ValueError`` (saying how to add one) if ``processor`` has no chat template."""
    if not getattr(processor, "chat_template", None):
        raise ValueError(
            f"the processor of {spec} has no chat template, so prompts cannot be formatted. Pass one with "
            "load_vlm(spec, chat_template='{% for message in messages %}…'), or add a chat_template.jinja "
            "(or a 'chat_template' key in processor_config.json) to the model directory."
        )


class HFGenerativeVLM:
    """An image-text-to-text model with its processor, implementing ``GenerativeVLM``.

    Build it with ``load_vlm("hf:<repo-or-dir>")``. Prompts go through the processor's chat template as one
    user turn (image first, then the text) followed by the assistant's generation prompt. A continuation is
    tokenized as it would follow the templated prompt in running text (see ``continuation_ids``) and its ids
    are appended to the prompt's: write a leading space (``" cat"``) where the template expects one.
    """

    def __init__(self, model: torch.nn.Module, processor: Any, spec: str) -> None:
        """Wrap a loaded model and processor.

        Args:
            model: an ``AutoModelForImageTextToText`` model, in eval mode.
            processor: its ``AutoProcessor``; must carry a chat template.
            spec: the spec string it was loaded from.

        Raises:
            ValueError: the processor has no chat template (the message says how to add one).
        """
        require_chat_template(processor, spec)
        self.model = model
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.spec = spec

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model's parameters."""
        return next(self.model.parameters()).dtype

    def format_prompt(self, prompt: str, with_image: bool = True) -> str:
        """Apply the chat template to one user turn (image placeholder first if ``with_image``)."""
        content: list[dict[str, str]] = [{"type": "image"}] if with_image else []
        content.append({"type": "text", "text": prompt})
        messages = [{"role": "user", "content": content}]
        return self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def encode_prompt(self, image: Image.Image | None, prompt: str) -> dict[str, torch.Tensor]:
        """Processor outputs for one templated prompt (``input_ids`` [1, P], ``pixel_values`` if an image)."""
        text = self.format_prompt(prompt, with_image=image is not None)
        kwargs: dict[str, Any] = {"text": [text], "return_tensors": "pt"}
        if image is not None:
            kwargs["images"] = [image]
        enc = self.processor(**kwargs)
        return {
            k: v.to(self.device, dtype=self.dtype if v.is_floating_point() else v.dtype)
            for k, v in enc.items()
        }

    def continuation_ids(self, continuations: Sequence[str], context: str | None = None) -> list[list[int]]:
        """Token ids of each continuation as it is tokenized after ``context`` (no special tokens).

        With a ``context`` (the templated prompt), a continuation's ids are the tail of ``context + c`` once the
        ids of ``context`` are removed, so tokenizers that mark word starts (SentencePiece's "▁") split it as
        in running text; when the boundary merges into one token, ``c`` is tokenized alone.
        """
        if isinstance(continuations, str):
            raise TypeError("continuations must be a list of strings, got a single str; wrap it in a list")

        def encode(text: str) -> list[int]:
            return self.tokenizer(text, add_special_tokens=False)["input_ids"]

        prefix = encode(context) if context else []
        ids = []
        for c in continuations:
            full = encode(context + c) if context else []
            aligned = context and full[: len(prefix)] == prefix and len(full) > len(prefix)
            ids.append(full[len(prefix) :] if aligned else encode(c))
        empty = [c for c, i in zip(continuations, ids, strict=True) if not i]
        if not continuations or empty:
            raise ValueError(f"every continuation needs at least one token; got {list(continuations)!r}")
        return ids

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str],
        images: Sequence[Image.Image] | None = None,
        max_new_tokens: int = 32,
        **generate_kwargs: Any,
    ) -> list[str]:
        """Answer each prompt (about its image, if given) by greedy decoding unless ``generate_kwargs`` say else.

        Args:
            prompts: user messages, one per sample.
            images: one image per prompt, or ``None`` for text-only prompts.
            max_new_tokens: generation budget per answer.
            **generate_kwargs: forwarded to ``model.generate`` (e.g. ``do_sample=True``).

        Returns:
            The decoded answers, special tokens removed.
        """
        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of strings, got a single str; wrap it in a list")
        if images is not None and len(images) != len(prompts):
            raise ValueError(
                f"got {len(images)} images for {len(prompts)} prompts; give one image per prompt"
            )
        texts = [self.format_prompt(p, with_image=images is not None) for p in prompts]
        self.tokenizer.padding_side = "left"  # generation appends on the right
        kwargs: dict[str, Any] = {"text": texts, "return_tensors": "pt", "padding": True}
        if images is not None:
            kwargs["images"] = list(images)
        enc = self.processor(**kwargs).to(self.device)
        if "pixel_values" in enc:
            enc["pixel_values"] = enc["pixel_values"].to(self.dtype)
        generate_kwargs.setdefault("do_sample", False)
        out = self.model.generate(**enc, max_new_tokens=max_new_tokens, **generate_kwargs)
        new = out[:, enc["input_ids"].shape[1] :]  # [B, generated]
        return [s.strip() for s in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    @torch.no_grad()
    def loglikelihood(
        self,
        image: Image.Image | None,
        prompt: str,
        continuations: Sequence[str],
        shared_prefix: bool = True,
    ) -> ContinuationScores:
        """Log-likelihood of each continuation as the assistant's answer to ``prompt`` about ``image``.

        Args:
            image: the image, or ``None`` to score without it (text-only prompt, for CFG/M3ID-style contrasts).
            prompt: the user message (chat template applied here).
            continuations: K candidate answers.
            shared_prefix: encode image + prompt once and score the K continuations from its KV cache in one
                batched pass (cost P + K·A tokens; ``loglikelihood_batch`` with one question); ``False`` runs
                one full forward per continuation (K·(P + A)).

        Returns:
            Summed and per-token-mean log-probabilities, [K] each.
        """
        if shared_prefix:
            return self.loglikelihood_batch([image], [prompt], [continuations])[0]
        cont = self.continuation_ids(continuations, context=self.format_prompt(prompt, image is not None))
        enc = self.encode_prompt(image, prompt)
        token_logp = [self._full_forward_logprobs(enc, c) for c in cont]
        num = torch.tensor([len(c) for c in cont])
        total = torch.stack([t.sum() for t in token_logp]).float().cpu()
        return ContinuationScores(sum=total, mean=total / num, num_tokens=num)

    @torch.no_grad()
    def loglikelihood_batch(
        self,
        images: Sequence[Image.Image | None] | None,
        prompts: Sequence[str],
        continuations: Sequence[Sequence[str]],
    ) -> list[ContinuationScores]:
        """``loglikelihood`` of B questions at once: two forwards, each question's prefix shared by its options.

        The B image + prompt prefixes are left-padded into one batch and encoded once; each question's KV cache
        is repeated for its K_b options, which are scored together (see ``vlmrobust.models.batched_scoring``).
        Scores equal those of ``loglikelihood`` per question, whatever else is in the batch.

        Args:
            images: one image (or ``None``, text-only) per question, or ``None`` for all text-only prompts.
            prompts: B user messages (chat template applied here).
            continuations: per question, its K_b candidate answers (K_b may differ between questions).

        Returns:
            One ``ContinuationScores`` ([K_b] each) per question, in order.

        Raises:
            ValueError: images, prompts and continuations differ in length, or an empty continuation.
            TypeError: ``prompts`` or a question's continuations is a single str.
        """
        if isinstance(prompts, str):
            raise TypeError("prompts must be a list of strings, got a single str; wrap it in a list")
        images = [None] * len(prompts) if images is None else list(images)
        if not len(images) == len(prompts) == len(continuations):
            raise ValueError(
                f"loglikelihood_batch needs one entry per question in images, prompts and continuations; got "
                f"{len(images)} images, {len(prompts)} prompts and {len(continuations)} continuation lists"
            )
        if not prompts:
            return []
        options = [
            self.continuation_ids(c, context=self.format_prompt(p, i is not None))
            for i, p, c in zip(images, prompts, continuations, strict=True)
        ]
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        batch = collate_prefixes(
            [self.encode_prompt(i, p) for i, p in zip(images, prompts, strict=True)], pad
        )
        return score_options(self.model, batch, options, pad)

    def _full_forward_logprobs(self, enc: dict[str, torch.Tensor], cont: list[int]) -> torch.Tensor:
        """Per-token log-probs [A] of ``cont`` from one forward over prefix + continuation."""
        ids = torch.tensor([cont], device=self.device)
        inputs = extend_token_inputs(enc, ids)
        self.reset_position_state()
        # logits of positions P-1 .. P+A-2 predict the A continuation tokens
        logits = self.model(**inputs, use_cache=False, **keep_logits(self.model, len(cont) + 1)).logits
        logits = logits[0, -(len(cont) + 1) : -1]  # [A, V]
        return logits.float().log_softmax(-1).gather(-1, ids[0, :, None])[:, 0]

    def reset_position_state(self) -> None:
        """Forget position offsets some models keep between calls (Qwen2-VL's M-RoPE ``rope_deltas``)."""
        for module in self.model.modules():
            if getattr(module, "rope_deltas", None) is not None:
                module.rope_deltas = None


def extend_token_inputs(enc: dict[str, torch.Tensor], ids: torch.Tensor) -> dict[str, torch.Tensor]:
    """Append text tokens ``ids`` [1, A] to processor outputs ``enc`` for a single full forward.

    Per-token tensors (shaped like ``input_ids``) grow with the new tokens: ``attention_mask`` with ones,
    ``token_type_ids`` with ones (PaliGemma: 1 marks the causally attended suffix, as in its training), any
    other (``mm_token_type_ids``) with zeros, the text type. Image tensors are unchanged.
    """
    shape = enc["input_ids"].shape
    out = dict(enc)
    for key, value in enc.items():
        if key == "input_ids":
            out[key] = torch.cat([value, ids], dim=1)  # [1, P + A]
        elif value.shape == shape:
            ones = key in ("attention_mask", "token_type_ids")
            fill = torch.ones_like(ids) if ones else torch.zeros_like(ids)
            out[key] = torch.cat([value, fill.to(value.dtype)], dim=1)
    return out


def load_vlm(
    spec: str | ModelSpec,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    attn_implementation: AttnImplementation = "auto",
    chat_template: str | None = None,
) -> HFGenerativeVLM:
    """Load a generative VLM from ``hf:<repo-id-or-local-dir>`` (offline-first, safetensors preferred).

    Args:
        spec: ``hf:`` spec naming a local model directory or a Hub repo id in the local cache.
        device: device of the returned model.
        dtype: parameter dtype.
        attn_implementation: ``"auto"`` (flash-attention 2 where it can run, else SDPA), or an explicit choice.
        chat_template: Jinja chat template overriding (or supplying) the processor's.

    Returns:
        The adapter, model in eval mode.

    Raises:
        ValueError: not an ``hf:`` spec, unusable attention backend, or no chat template.
        FileNotFoundError: a local directory that does not exist or has no config.json.
        WeightsNotCachedError: a repo id not in the cache while ``HF_HUB_OFFLINE=1``.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if parsed.backend != "hf":
        raise ValueError(
            f"{parsed}: generative VLMs load from Hugging Face; use an 'hf:<repo-id-or-local-dir>' spec"
        )
    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    attn = select_attention(attn_implementation, device, dtype)
    processor = from_pretrained_offline(AutoProcessor.from_pretrained, parsed, "processor")
    if chat_template is not None:
        processor.chat_template = chat_template
    require_chat_template(processor, str(parsed))
    model = from_pretrained_offline(
        AutoModelForImageTextToText.from_pretrained,
        parsed,
        "model",
        dtype=dtype,
        attn_implementation=attn,
        use_safetensors=None,
    )
    return HFGenerativeVLM(model.to(device).eval(), processor, spec=str(parsed))
