"""Offline-first weight files: read/write state dicts safely, find open_clip pretrained tags in the HF cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from vlmrobust.core.atomic import atomic_write

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
CHECKPOINT_SUFFIXES = (".safetensors", *TORCH_SUFFIXES)
_TRUE = {"1", "ON", "YES", "TRUE"}


class WeightsNotCachedError(FileNotFoundError):
    """Pretrained weights are not in the local cache and downloading is disabled or failed."""


def hub_offline() -> bool:
    """Whether Hugging Face Hub access is disabled (``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``, read now)."""
    import huggingface_hub.constants as hf_constants

    env = (os.environ.get(k, "").upper() for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))
    return bool(hf_constants.HF_HUB_OFFLINE) or any(v in _TRUE for v in env)


def load_state_dict_file(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a state dict from a local checkpoint, never unpickling arbitrary objects.

    ``.safetensors`` is read with safetensors; ``.pt/.pth/.bin/.ckpt`` with ``torch.load(weights_only=True)``.
    A dict nested under ``"state_dict"`` (Lightning, many trainers) is unwrapped, and a ``module.`` prefix
    shared by every key (DDP) is stripped. In a Lightning checkpoint (``vlmrobust fit``) the keys carry the
    LightningModule's attribute path to the model (e.g. ``scorer.model.``); the dotted prefix every key
    shares is stripped, so the file loads into the bare architecture.

    Args:
        path: checkpoint file.

    Returns:
        Parameter name -> tensor, on CPU.

    Raises:
        FileNotFoundError: the file does not exist (the message names the path).
        ValueError: unsupported suffix, or content that is not a flat tensor dict.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        obj: object = load_file(str(path), device="cpu")
    elif suffix in TORCH_SUFFIXES:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # UnpicklingError for pickled objects outside the safe allow-list
            raise ValueError(
                f"cannot load {path} with torch.load(weights_only=True): {e}. Re-save it as a plain state "
                "dict (or convert it to .safetensors) in a trusted environment."
            ) from e
    else:
        raise ValueError(
            f"unsupported checkpoint suffix {suffix!r} for {path}; use one of {CHECKPOINT_SUFFIXES}"
        )
    lightning = isinstance(obj, dict) and "pytorch-lightning_version" in obj
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{path} does not hold a state dict (got {type(obj).__name__})")
    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ValueError(f"{path}: state dict entries are not tensors: {bad[:5]}")
    if all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    if lightning:
        prefix = _shared_dotted_prefix(list(obj))
        obj = {k[len(prefix) :]: v for k, v in obj.items()}
    return obj


def _shared_dotted_prefix(keys: list[str]) -> str:
    """The longest ``a.b.`` prefix every key starts with (``""`` when they share none)."""
    parts = [k.split(".")[:-1] for k in keys]
    shared: list[str] = []
    for level in zip(*parts, strict=False):
        if len(set(level)) != 1:
            break
        shared.append(level[0])
    return "".join(f"{p}." for p in shared)


def save_state_dict_file(
    state_dict: dict[str, torch.Tensor], path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> Path:
    """Write ``state_dict`` as safetensors, atomically (a temporary file renamed over ``path``).

    Args:
        state_dict: parameter name -> tensor; tensors are copied to CPU and made contiguous.
        path: destination; must end in ``.safetensors``. Parent folders are created.
        metadata: optional string metadata stored in the safetensors header.

    Returns:
        The path written.
    """
    from safetensors.torch import save_file

    path = Path(path).expanduser()
    if path.suffix != ".safetensors":
        raise ValueError(f"save path must end in .safetensors, got {path}")
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def _weight_filenames(filename: str) -> list[str]:
    """Files to look for, safetensors first (mirrors open_clip's preference)."""
    from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

    if filename == HF_WEIGHTS_NAME:
        return [HF_SAFE_WEIGHTS_NAME, filename]
    if filename.endswith((".bin", ".pth")):
        return [filename[:-4] + ".safetensors", filename]
    return [filename]


def cached_open_clip_file(
    arch: str, tag: str, cache_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """The cached file of open_clip's pretrained weights ``arch@tag`` (no network), or ``None``."""
    import huggingface_hub
    from open_clip.constants import HF_WEIGHTS_NAME
    from open_clip.pretrained import get_pretrained_cfg

    hub = get_pretrained_cfg(arch, tag).get("hf_hub", "")
    if not hub:
        return None
    repo_id, filename = os.path.split(hub)
    cache = str(cache_dir) if cache_dir is not None else None
    for name in _weight_filenames(filename or HF_WEIGHTS_NAME):
        found = huggingface_hub.try_to_load_from_cache(repo_id, name, cache_dir=cache)
        if isinstance(found, str):
            return Path(found)
    return None


def resolve_open_clip_tag(arch: str, tag: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the local file holding open_clip's pretrained weights ``arch@tag``.

    The Hugging Face cache (``cache_dir`` or the default hub cache) is searched first, without network.
    If the file is absent and the hub is offline (``HF_HUB_OFFLINE=1``), this fails at once; otherwise it
    is downloaded through ``huggingface_hub`` (which applies its own network timeouts).

    Raises:
        WeightsNotCachedError: not cached and offline, or the download failed; the message gives the
            command that fetches the file and where it must go.
    """
    import huggingface_hub
    from huggingface_hub.constants import HF_HUB_CACHE
    from open_clip.constants import HF_WEIGHTS_NAME
    from open_clip.pretrained import get_pretrained_cfg

    hub = get_pretrained_cfg(arch, tag).get("hf_hub", "")
    if not hub:
        raise WeightsNotCachedError(f"open_clip has no Hugging Face location for {arch}@{tag}")
    found = cached_open_clip_file(arch, tag, cache_dir)
    if found is not None:
        return found
    repo_id, filename = os.path.split(hub)
    candidates = _weight_filenames(filename or HF_WEIGHTS_NAME)
    cache = str(cache_dir) if cache_dir is not None else None
    where = Path(cache or HF_HUB_CACHE)
    advice = (
        f"On a machine with network run `hf download {repo_id} {candidates[-1]} --cache-dir {where}` and copy "
        f"{where} here (or point cache_dir / HF_HUB_CACHE at it), or download the file anywhere and use the "
        f"spec 'open_clip:{arch}@/path/to/{candidates[-1]}'."
    )
    if hub_offline():
        raise WeightsNotCachedError(
            f"open_clip weights {arch}@{tag} ({repo_id}/{candidates[-1]}) are not in the Hugging Face cache "
            f"{where}, and HF_HUB_OFFLINE=1 forbids downloading. {advice}"
        )
    errors = []
    for name in candidates:
        try:
            return Path(huggingface_hub.hf_hub_download(repo_id, name, cache_dir=cache))
        except Exception as e:  # missing file variant, no network, gated repo, ...
            errors.append(f"{name}: {type(e).__name__}: {e}")
    raise WeightsNotCachedError(
        f"could not download open_clip weights {arch}@{tag}: {'; '.join(errors)}. {advice}"
    )


@contextmanager
def enforce_hub_offline() -> Iterator[None]:
    """While active, make ``huggingface_hub`` refuse HTTP if ``HF_HUB_OFFLINE`` is set in the environment now.

    ``huggingface_hub`` reads the variable once at import; libraries that download through it (timm) would
    otherwise try the network when the variable was set later (e.g. by a test or a launcher).
    """
    import huggingface_hub.constants as hf_constants

    previous = hf_constants.HF_HUB_OFFLINE
    hf_constants.HF_HUB_OFFLINE = previous or hub_offline()
    try:
        yield
    finally:
        hf_constants.HF_HUB_OFFLINE = previous
