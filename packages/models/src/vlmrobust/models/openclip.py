"""open_clip backend: build an ``ImageTextScorer`` from an ``open_clip:<arch>[@<tag-or-path>]`` spec."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.models.checkpoints import (
    CHECKPOINT_SUFFIXES,
    load_state_dict_file,
    resolve_open_clip_tag,
    save_state_dict_file,
)
from vlmrobust.models.scorer_base import DualEncoderScorer, Tower
from vlmrobust.models.spec import ModelSpec

log = logging.getLogger(__name__)


class OpenClipScorer(DualEncoderScorer):
    """An open_clip model with its tokenizer and transforms, implementing ``ImageTextScorer``.

    Build it with ``vlmrobust.models.load_scorer("open_clip:…")``. Calling it, ``scorer(images, tokens)``,
    returns the arguments of open_clip's ``ClipLoss`` / ``SigLipLoss``.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        preprocess: Callable[[Image.Image], torch.Tensor],
        preprocess_train: Callable[[Image.Image], torch.Tensor],
        spec: str,
    ) -> None:
        """Wrap an open_clip model.

        Args:
            model: an open_clip ``CLIP`` / ``CustomTextCLIP``.
            tokenizer: open_clip tokenizer (callable on a list of strings).
            preprocess: eval transform, PIL image -> tensor [3, H, W].
            preprocess_train: train transform, PIL image -> tensor [3, H, W].
            spec: the spec string the model came from (``open_clip:<arch>[@…]``).
        """
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.preprocess = preprocess
        self.preprocess_train = preprocess_train
        self.spec = spec
        self.context_length: int = int(tokenizer.context_length)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        """Token ids, LongTensor [T, context_length] on CPU; long texts are truncated."""
        if isinstance(texts, str):
            raise TypeError("tokenize expects a list of strings, got a single str; wrap it in a list")
        return self.tokenizer(list(texts))

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Embed preprocessed images [B, 3, H, W] into [B, D] (unit norm if ``normalize``)."""
        return self.model.encode_image(images.to(device=self.device, dtype=self.dtype), normalize=normalize)

    def encode_text(self, texts: Sequence[str] | torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Embed strings or token ids [T, L] into [T, D] (unit norm if ``normalize``).

        A causal text tower pooled at the end-of-text token never lets padding after the last text token
        reach the pooled feature, so those columns are dropped before the forward (prompts of ~10 tokens
        run ~7x fewer positions than the 77 of the context); other towers see the full context.
        """
        tokens = texts if isinstance(texts, torch.Tensor) else self.tokenize(texts)
        tokens = tokens.to(device=self.device, dtype=torch.long)
        if tokens.shape[0] == 0 or not _trailing_padding_is_inert(self.model):
            return self.model.encode_text(tokens, normalize=normalize)
        used = int((tokens != 0).any(dim=0).nonzero().max()) + 1 if bool((tokens != 0).any()) else 1
        return _encode_text_prefix(self.model, tokens[:, :used], normalize)

    def lock_tower(self, tower: Tower) -> None:
        """Freeze the ``image`` or ``text`` tower (LiT-style: no gradients; batch-norm statistics frozen too),
        through open_clip's own ``lock_image_tower`` / ``lock_text_tower``."""
        if tower == "image":
            self.model.lock_image_tower(unlocked_groups=0, freeze_bn_stats=True)
        elif tower == "text":
            self.model.lock_text_tower(unlocked_layers=0, freeze_layer_norm=True)
        else:
            raise ValueError(f"unknown tower {tower!r}; valid: 'image', 'text'")

    def forward(self, images: torch.Tensor, tokens: torch.Tensor | Sequence[str]) -> tuple[torch.Tensor, ...]:
        """Return ``(image_features, text_features, logit_scale[, logit_bias])`` for ``ClipLoss``/``SigLipLoss``.

        Args:
            images: preprocessed images [B, 3, H, W].
            tokens: token ids [T, L] (or strings, tokenized here).

        Features are unit-normalised. The call goes through the open_clip model's own ``forward`` so that
        wrappers (DDP, FSDP) see it.
        """
        if not isinstance(tokens, torch.Tensor):
            tokens = self.tokenize(tokens)
        images = images.to(device=self.device, dtype=self.dtype)
        return tuple(self.model(images, tokens.to(device=self.device, dtype=torch.long)))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the open_clip state dict as safetensors (atomically).

        ``load_scorer(f"open_clip:{arch}@{path}")`` reloads it exactly.

        Args:
            path: destination ending in ``.safetensors``.

        Returns:
            The path written.
        """
        return save_state_dict_file(self.model.state_dict(), path, metadata={"vlmrobust_spec": self.spec})


def _trailing_padding_is_inert(model: torch.nn.Module) -> bool:
    """Whether padding after a text's last token cannot change its pooled feature and can be cut: open_clip's
    ``CLIP`` text tower with its causal mask, pooled at the end-of-text token (``argmax``/``eos``), padding id
    0. ``CustomTextCLIP`` towers run the full context (their mask is not cut to shorter inputs)."""
    return (
        getattr(model, "text", None) is None
        and getattr(model, "attn_mask", None) is not None
        and getattr(model, "text_pool_type", None) in ("argmax", "eos")
    )


def _encode_text_prefix(model: torch.nn.Module, tokens: torch.Tensor, normalize: bool) -> torch.Tensor:
    """open_clip ``CLIP.encode_text`` of ``tokens`` [T, L'], the first L' columns of the padded context (see
    ``_trailing_padding_is_inert``): the positional embedding and causal mask are cut to L'."""
    from open_clip.transformer import text_global_pool

    n = tokens.shape[1]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:n].to(cast_dtype)
    x = model.ln_final(model.transformer(x, attn_mask=model.attn_mask[:n, :n]))
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    projection = model.text_projection
    if projection is not None:
        x = projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection
    return torch.nn.functional.normalize(x, dim=-1) if normalize else x


def build_open_clip_scorer(
    spec: ModelSpec,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    cache_dir: str | os.PathLike[str] | None = None,
    seed: int | None = None,
) -> OpenClipScorer:
    """Build an ``OpenClipScorer`` (in eval mode) from a parsed ``open_clip`` spec, without network if cached.

    Args:
        spec: parsed ``open_clip:<arch>[@<tag-or-path>]`` spec.
        device: where to put the model.
        dtype: floating dtype of the parameters.
        cache_dir: Hugging Face cache to search for pretrained tags (default: the hub cache).
        seed: seeds the random init (the global RNG is left untouched); ``None`` uses the global RNG.
    """
    import open_clip
    from open_clip.transform import PreprocessCfg, image_transform_v2, merge_preprocess_dict

    from vlmrobust.models.architectures import register_model_configs, tiny_architectures

    if not dtype.is_floating_point:
        raise ValueError(f"dtype must be a floating dtype, got {dtype}")
    register_model_configs()
    checkpoint, tag_cfg = _resolve_checkpoint(spec, cache_dir)
    # A seeded init runs on a forked CPU RNG so the caller's global RNG stream is left as it was.
    rng = nullcontext() if seed is None else torch.random.fork_rng(devices=[])
    # open_clip warns of a random init: noise when weights follow, or for the tiny configs (random by design)
    with rng, _quiet_random_init_warning(checkpoint is not None or spec.name in tiny_architectures()):
        if seed is not None:
            torch.manual_seed(seed)
        model = open_clip.create_model(
            spec.name,
            pretrained=None,
            device="cpu",
            precision="fp32",
            # Tags trained with QuickGELU (e.g. OpenAI's) need it, or outputs silently drift.
            force_quick_gelu=bool(tag_cfg.get("quick_gelu", False)),
            force_preprocess_cfg=merge_preprocess_dict({}, tag_cfg),
            pretrained_image=False,  # never fetch tower weights behind the user's back
            pretrained_text=False,
            cache_dir=None if cache_dir is None else str(cache_dir),
        )
    if checkpoint is not None:
        _load_weights(model, load_state_dict_file(checkpoint), checkpoint, spec.name)
        log.info("loaded %s weights from %s", spec.name, checkpoint)
    model.to(device=device, dtype=dtype)
    tokenizer = open_clip.get_tokenizer(spec.name, cache_dir=None if cache_dir is None else str(cache_dir))
    pp_cfg = PreprocessCfg(**open_clip.get_model_preprocess_cfg(model))
    scorer = OpenClipScorer(
        model,
        tokenizer,
        preprocess=image_transform_v2(pp_cfg, is_train=False),
        preprocess_train=image_transform_v2(pp_cfg, is_train=True),
        spec=str(spec),
    )
    return scorer.eval()


def _resolve_checkpoint(
    spec: ModelSpec, cache_dir: str | os.PathLike[str] | None
) -> tuple[Path | None, dict]:
    """Map the pretrained part of the spec to a local file and the tag's config (``{}`` for files)."""
    from open_clip.pretrained import get_pretrained_cfg, list_pretrained_tags_by_model

    if spec.pretrained is None:
        return None, {}
    tag_cfg = get_pretrained_cfg(spec.name, spec.pretrained)
    if tag_cfg:
        return resolve_open_clip_tag(spec.name, spec.pretrained, cache_dir), tag_cfg
    path = Path(spec.pretrained).expanduser()
    if path.is_file():
        return path, {}
    if path.is_dir():
        raise IsADirectoryError(
            f"checkpoint path {path} (spec {spec}) is a directory; name the weights file in it"
        )
    looks_like_path = (
        "/" in spec.pretrained or os.sep in spec.pretrained or path.suffix.lower() in CHECKPOINT_SUFFIXES
    )
    if looks_like_path:
        raise FileNotFoundError(f"checkpoint file not found: {path} (spec {spec})")
    tags = list_pretrained_tags_by_model(spec.name)
    raise ValueError(
        f"{spec.pretrained!r} in spec {spec} is neither an open_clip pretrained tag of {spec.name!r} nor an "
        f"existing checkpoint file. {did_you_mean(spec.pretrained, tags, f'tags for {spec.name}')}"
    )


def _load_weights(
    model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: Path, arch: str
) -> None:
    """Load a full open_clip state dict strictly, applying open_clip's format fix-ups."""
    from open_clip.convert import convert_state_dict
    from open_clip.model import convert_to_custom_text_state_dict, resize_pos_embed, resize_text_pos_embed

    state_dict = convert_state_dict(model, state_dict)
    if "positional_embedding" in state_dict and not hasattr(model, "positional_embedding"):
        state_dict = convert_to_custom_text_state_dict(state_dict)
    for key in ("logit_scale", "logit_bias"):
        param = getattr(model, key, None)
        if param is not None and key in state_dict:
            state_dict[key] = state_dict[key].reshape(param.shape)  # scalar vs [1] across versions
    if getattr(model, "logit_bias", None) is not None and "logit_bias" not in state_dict:
        state_dict["logit_bias"] = torch.zeros_like(
            model.logit_bias
        )  # CLIP weights into a SigLIP-style model
    try:  # open_clip asserts when a positional embedding's width differs
        resize_pos_embed(state_dict, model)
        resize_text_pos_embed(state_dict, model)
    except AssertionError as e:
        raise ValueError(
            f"checkpoint {source} does not fit open_clip architecture {arch!r}: {_mismatch(model, state_dict)}"
        ) from e
    mismatched = _mismatch(model, state_dict)
    if mismatched:
        raise ValueError(f"checkpoint {source} does not fit open_clip architecture {arch!r}: {mismatched}")
    try:
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
    except RuntimeError as e:  # shape mismatches
        raise ValueError(f"checkpoint {source} does not fit open_clip architecture {arch!r}: {e}") from e
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {source} does not fit open_clip architecture {arch!r}: "
            f"{len(missing)} missing keys {missing[:5]}, {len(unexpected)} unexpected keys {unexpected[:5]}"
        )


def _mismatch(model: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> str:
    """``tensor <name> has shape (…) in the checkpoint, (…) in the architecture`` for the first tensors whose
    shapes differ (``""`` when none do)."""
    own = model.state_dict()
    bad = [k for k, v in state_dict.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    return "; ".join(
        f"tensor {k} has shape {tuple(state_dict[k].shape)} in the checkpoint, {tuple(own[k].shape)} in the "
        "architecture"
        for k in bad[:3]
    ) + (f" (and {len(bad) - 3} more)" if len(bad) > 3 else "")


class _quiet_random_init_warning:
    """Drop open_clip's 'initialized randomly' warning (weights are loaded next, or random init is intended)."""

    def __init__(self, active: bool) -> None:
        self.active = active

    def _filter(self, record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage()

    def __enter__(self) -> None:
        if self.active:
            logging.getLogger().addFilter(self._filter)

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeFilter(self._filter)
