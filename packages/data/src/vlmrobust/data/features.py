"""A feature cache on disk: an encoder's features of a dataset, computed once, sharded, memory-mapped.

Layout of one cached dataset (``<root>/<name>/``)::

    meta.json                  {"encoder", "size", "shard_size", "dim", "complete"}
    features-00000.npy         float32 [rows, D] of items [0, shard_size)
    fields-00000.npz           the items' numeric fields (label, options, answer, labels ...), [rows, ...]

Shards are written atomically one by one, so a killed build keeps its finished shards and the next build
computes only the missing ones. ``meta.json`` is written first with ``complete: false`` and rewritten with
``complete: true`` at the end; a cache built by another encoder, or for a dataset of another size, is
refused rather than mixed. ``CachedFeatures`` reads the shards memory-mapped (bounded memory at any size).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Subset

from vlmrobust.core.atomic import atomic_write


@runtime_checkable
class FeatureEncoder(Protocol):
    """What the cache needs of a frozen image encoder (``vlmrobust.models.features.ImageEncoder``).

    Attributes:
        identity: what the features are (model spec, pooling, layer): a cache of another identity is refused.
        preprocess: PIL image -> tensor [3, H, W], the transform of the images it encodes.
    """

    identity: str
    preprocess: Callable[[Image.Image], torch.Tensor]

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Features [B, D] of preprocessed images [B, 3, H, W]."""
        ...


class FeatureCacheError(ValueError):
    """A cache folder does not match the dataset or encoder asked for, or is incomplete."""


def _shard_names(i: int) -> tuple[str, str]:
    return f"features-{i:05d}.npy", f"fields-{i:05d}.npz"


def _numeric_fields(batch: dict[str, Any]) -> dict[str, np.ndarray]:
    """The batch's tensor and number fields except ``image``, as arrays (strings are not cached)."""
    out = {}
    for key, value in batch.items():
        if key == "image":
            continue
        if isinstance(value, torch.Tensor):
            out[key] = value.cpu().numpy()
        elif isinstance(value, list | tuple) and value and isinstance(value[0], int | float | bool):
            out[key] = np.asarray(value)
    return out


def _write_meta(folder: Path, meta: dict[str, Any]) -> None:
    atomic_write(folder / "meta.json", lambda p: p.write_text(json.dumps(meta, indent=1)))


def build_cache(
    folder: str | Path,
    dataset: Dataset,
    encoder: FeatureEncoder,
    shard_size: int = 4096,
    batch_size: int = 256,
    num_workers: int = 0,
) -> Path:
    """Cache ``encoder.encode(batch["image"])`` of every item of ``dataset`` under ``folder`` (resumable).

    Args:
        folder: the cache folder of this dataset.
        dataset: map-style dataset of dicts with ``image`` (already transformed for the encoder).
        encoder: the frozen encoder (run under ``torch.no_grad``); a cache of another ``identity`` is refused.
        shard_size: items per shard.
        batch_size: items per encoder call.
        num_workers: DataLoader workers reading the dataset.

    Returns:
        ``folder``.

    Raises:
        FeatureCacheError: ``folder`` holds a cache of another encoder, size or shard size.
    """
    folder = Path(folder)
    size = len(dataset)  # type: ignore[arg-type]
    meta = {
        "encoder": encoder.identity,
        "size": size,
        "shard_size": shard_size,
        "dim": None,
        "complete": False,
    }
    if (folder / "meta.json").exists():
        old = json.loads((folder / "meta.json").read_text())
        for key in ("encoder", "size", "shard_size"):
            if old.get(key) != meta[key]:
                raise FeatureCacheError(
                    f"{folder}: the cache was built with {key}={old.get(key)!r}, not {meta[key]!r}; "
                    "delete the folder or give another cache directory"
                )
        if old.get("complete"):
            return folder
        meta["dim"] = old.get("dim")
    _write_meta(folder, meta)
    for shard, start in enumerate(range(0, size, shard_size)):
        feats_name, fields_name = _shard_names(shard)
        if (folder / feats_name).exists() and (folder / fields_name).exists():
            continue
        rows = Subset(dataset, range(start, min(start + shard_size, size)))
        feats, fields = _encode(rows, encoder, batch_size, num_workers)
        meta["dim"] = int(feats.shape[1])
        atomic_write(folder / fields_name, lambda p, f=fields: np.savez(p, **f))
        atomic_write(folder / feats_name, lambda p, x=feats: np.save(p, x))
    _write_meta(folder, {**meta, "complete": True})
    return folder


@torch.no_grad()
def _encode(
    rows: Dataset, encoder: FeatureEncoder, batch_size: int, num_workers: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    loader = DataLoader(rows, batch_size=batch_size, num_workers=num_workers)
    feats: list[np.ndarray] = []
    fields: dict[str, list[np.ndarray]] = {}
    for batch in loader:
        feats.append(encoder.encode(batch["image"]).float().cpu().numpy())
        for key, value in _numeric_fields(batch).items():
            fields.setdefault(key, []).append(value)
    return np.concatenate(feats), {k: np.concatenate(v) for k, v in fields.items()}


class CachedFeatures(Dataset[dict[str, Any]]):
    """A complete cache as a dataset: items ``{"features": [D] float32, <cached fields>}``, memory-mapped.

    ``sample_id`` is delegated to ``source`` (the dataset the cache was built from), so stored
    predictions keep the source's sample ids.

    Args:
        folder: the cache folder.
        source: the dataset the cache was built from (for ``sample_id``), or ``None``.
    """

    def __init__(self, folder: str | Path, source: Any = None) -> None:
        self.folder = Path(folder)
        meta_path = self.folder / "meta.json"
        if not meta_path.exists():
            raise FeatureCacheError(f"{self.folder}: no feature cache here (no meta.json)")
        self.meta = json.loads(meta_path.read_text())
        if not self.meta.get("complete"):
            raise FeatureCacheError(f"{self.folder}: the cache is incomplete; build it (again) first")
        self.size, self.shard_size = int(self.meta["size"]), int(self.meta["shard_size"])
        self.dim = int(self.meta["dim"])
        self.source = source
        self._shards: dict[int, tuple[np.ndarray, dict[str, np.ndarray]]] = {}

    def _shard(self, i: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if i not in self._shards:
            feats_name, fields_name = _shard_names(i)
            with np.load(self.folder / fields_name) as npz:
                fields = {k: npz[k] for k in npz.files}
            self._shards[i] = (np.load(self.folder / feats_name, mmap_mode="r"), fields)
        return self._shards[i]

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < self.size:
            raise IndexError(f"{self.folder}: item {i} outside [0, {self.size})")
        feats, fields = self._shard(i // self.shard_size)
        row = i % self.shard_size
        item: dict[str, Any] = {"features": torch.from_numpy(np.array(feats[row]))}
        for key, values in fields.items():
            value = values[row]
            item[key] = torch.from_numpy(np.array(value)) if value.ndim else value.item()
        item["index"] = i
        return item

    def sample_id(self, i: int) -> str:
        """The source dataset's id of item ``i`` (its position when there is no source)."""
        return self.source.sample_id(i) if self.source is not None else str(i)
