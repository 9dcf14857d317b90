"""Offline-first resolution of ``hf:<repo-id-or-local-dir>`` specs for ``from_pretrained``."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from vlmrobust.models.checkpoints import WeightsNotCachedError, hub_offline
from vlmrobust.models.spec import ModelSpec

T = TypeVar("T")


def _looks_like_path(name: str) -> bool:
    """Hub repo ids are ``name`` or ``org/name``; anything absolute, relative or deeper is a path."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name)


def resolve_hf_source(spec: ModelSpec) -> tuple[str, bool]:
    """Map an ``hf:`` spec to what ``from_pretrained`` takes and whether to stay off the network.

    Args:
        spec: parsed ``hf:`` spec; its name is a local directory or a Hub repo id (``org/name``).

    Returns:
        ``(source, local_files_only)``: a local directory (always local-only) or the repo id, local-only when
        ``HF_HUB_OFFLINE=1``.

    Raises:
        FileNotFoundError: the name is a path that does not exist, or a file rather than a model directory.
    """
    path = Path(spec.name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{path} (spec {spec}) is not a Hugging Face model directory: it has no config.json. "
                "Point the spec at the folder written by `save_pretrained` / `hf download`."
            )
        return str(path), True
    if path.exists() or _looks_like_path(spec.name):
        raise FileNotFoundError(
            f"model directory not found: {path} (spec {spec}). Give an existing folder holding config.json "
            "and the weights, or a Hub repo id like 'llava-hf/llava-1.5-7b-hf'."
        )
    return spec.name, hub_offline()


def from_pretrained_offline(load: Callable[..., T], spec: ModelSpec, what: str, **kwargs: Any) -> T:
    """Call ``load(source, local_files_only=…, **kwargs)`` and turn cache misses into actionable errors.

    Args:
        load: e.g. ``AutoProcessor.from_pretrained``.
        spec: parsed ``hf:`` spec.
        what: what is being loaded, for messages (e.g. ``"processor"``).
        **kwargs: forwarded to ``load``.

    Raises:
        WeightsNotCachedError: a repo id that is not in the Hugging Face cache while offline (or unreachable).
        FileNotFoundError: see ``resolve_hf_source``.
    """
    source, local_only = resolve_hf_source(spec)
    if local_only and not Path(source).is_dir():
        # Offline: resolve the repo id to its cached snapshot folder first, so nothing downstream (e.g. the
        # PEFT adapter lookup of Auto* classes, which ignores local_files_only) can reach the network.
        source = _cached_snapshot(spec, source, kwargs.get("cache_dir"))
    try:
        return load(source, local_files_only=local_only, **kwargs)
    except OSError as e:
        if Path(source).is_dir():
            raise OSError(f"cannot load the {what} of {spec} from {source}: {e}") from e
        raise WeightsNotCachedError(
            f"cannot load the {what} of {spec} ({type(e).__name__}: {e}). {_advice(source)}"
        ) from e


def _advice(repo_id: str) -> str:
    return (
        f"On a machine with network run `hf download {repo_id}` and copy the Hugging Face cache here (or set "
        "HF_HOME / cache_dir), or download it to a folder and use the spec 'hf:/path/to/folder'."
    )


def _cached_snapshot(spec: ModelSpec, repo_id: str, cache_dir: str | None) -> str:
    """Local folder of the cached snapshot of ``repo_id`` (no network)."""
    import huggingface_hub
    from huggingface_hub.constants import HF_HUB_CACHE

    try:
        return huggingface_hub.snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir)
    except Exception as e:  # LocalEntryNotFoundError, invalid repo id, ...
        raise WeightsNotCachedError(
            f"{spec}: {repo_id!r} is not in the Hugging Face cache {cache_dir or HF_HUB_CACHE} and "
            f"HF_HUB_OFFLINE=1 forbids downloading ({type(e).__name__}). {_advice(repo_id)}"
        ) from e
