"""Corrupted eval sets computed once and kept as WebDataset shards (lossless PNG), read back map-style.

:func:`cache_corrupted` writes ``<set>-<key>-%06d.tar`` shards and, last, ``<set>-<key>.meta.json``
(``<set>`` is the corrupted set's name with ``/`` as ``_``; ``<key>`` 10 hex digits of the SHA-256 of what
determines the files: corruption, severity, seed, imagecorruptions version, the sample ids, the shard size
and any ``source`` the caller names, such as the world's seed and image size). Each sample is two members
keyed by its ``%08d`` position, ``.png`` (the corrupted image) and ``.json`` (``sample_id``, ``label``, and
``labels``, the correct classes of a multi-label set): the layout of
``vlmrobust.data.interop.export_webdataset``, so ``WebDatasetStream`` streams the shards too. Every shard
and the meta file are written atomically: a killed job leaves no partial file under a final name, and a
rerun keeps the finished shards and writes the rest; a complete cache (its meta file exists) is read
without generating anything.

:class:`CachedCorruptedDataset` serves the same items as the on-the-fly ``CorruptedDataset`` (bitwise equal
images) with random access: the shards' tar headers are indexed once (tarfile verifies their checksums, and
a member or sample count that disagrees with the meta file, as after a truncated or damaged shard, is an
error naming the shard), then each item reads its two members alone (bounded memory).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import itertools
import json
import os
import tarfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from vlmrobust.core.atomic import atomic_write, atomic_write_text
from vlmrobust.data.corruptions.dataset import CorruptedDataset
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.interop.webdataset import WDS_FORMAT, decode_image

#: Version of the cache layout (part of every cache key).
CACHE_FORMAT = "vlmrobust-corruption-cache/1"
_ITEM_KEYS = frozenset({"image", "label", "index", "labels"})


class CorruptCacheError(ValueError):
    """A cached shard disagrees with its meta file or cannot be read (the message names the file)."""


def _cache_key(
    dataset: CorruptedDataset, shard_size: int, source: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What determines the cache files of ``dataset`` (its digest is in their names)."""
    ids = "\n".join(dataset.sample_id(i) for i in range(len(dataset)))
    return {
        "format": CACHE_FORMAT, "eval_set": dataset.info.name, "corruption": dataset.name,
        "severity": dataset.severity, "seed": dataset.seed, "imagecorruptions": version("imagecorruptions"),
        "num_samples": len(dataset), "sample_ids": hashlib.sha256(ids.encode()).hexdigest(),
        "shard_size": shard_size, "source": dict(source or {}),
    }  # fmt: skip


def _digest(key: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:10]


class _Encoded(Dataset[tuple[bytes, dict[str, Any]]]):
    """Items of a corrupted set as (PNG bytes, JSON record), encoded where they are made (in the workers)."""

    def __init__(self, dataset: CorruptedDataset, compress_level: int) -> None:
        self.dataset, self.compress_level = dataset, compress_level

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[bytes, dict[str, Any]]:
        image, item = self.dataset.corrupted_image(i)
        extra = sorted(set(item) - _ITEM_KEYS)
        if extra:
            raise ValueError(
                f"{self.dataset.info.name}: cache_corrupted stores classification items (image, label, "
                f"labels, index); item {i} also has {extra}"
            )
        record: dict[str, Any] = {"sample_id": self.dataset.sample_id(i), "label": int(item["label"])}
        if "labels" in item:
            record["labels"] = torch.as_tensor(item["labels"]).nonzero().flatten().tolist()
        buf = io.BytesIO()
        image.save(buf, format="PNG", compress_level=self.compress_level)
        return buf.getvalue(), record


def _identity(item: Any) -> Any:
    return item


def _member(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    return info, io.BytesIO(data)


def _write_shard(tmp: Path, items: Iterable[tuple[bytes, dict[str, Any]]], first: int) -> None:
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        for n, (png, record) in enumerate(items, first):
            tar.addfile(*_member(f"{n:08d}.png", png))
            tar.addfile(*_member(f"{n:08d}.json", json.dumps(record).encode()))


def cache_corrupted(
    dataset: CorruptedDataset,
    out_dir: str | os.PathLike[str],
    *,
    shard_size: int = 1000,
    num_workers: int = 0,
    source: Mapping[str, Any] | None = None,
    compress_level: int = 0,
) -> CachedCorruptedDataset:
    """Write ``dataset``'s corrupted images to shards under ``out_dir`` once, and return the cached set.

    Args:
        dataset: the corrupted set (its items: ``image``, ``label``, ``index`` and optionally ``labels``).
        out_dir: cache folder (several sets and configurations share one: file names carry the key).
        shard_size: samples per shard.
        num_workers: DataLoader worker processes generating the images (0: this process).
        source: what else identifies the base images beyond their sample ids (JSON values), e.g.
            ``{"world_seed": 0, "image_size": 32}``; part of the cache key.
        compress_level: zlib level of the PNGs, 0-9 (lossless at every level). The default 0 (stored)
            decodes 4-5x faster than 6 (about 0.25 vs 1.1 ms for 224 px, faster than the JPEG it came
            from) for files 1.1-1.9x larger (``benchmarks/corruptions.py``).

    Returns:
        The cached set, with ``dataset``'s transform.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must be in 0..9, got {compress_level}")
    key = _cache_key(dataset, shard_size, source)
    stem = f"{dataset.info.name.replace('/', '_')}-{_digest(key)}"
    out = Path(out_dir)
    meta = out / f"{stem}.meta.json"
    if not meta.is_file():
        n = len(dataset)
        shards = [out / f"{stem}-{k:06d}.tar" for k in range((n + shard_size - 1) // shard_size)]
        todo = [k for k, shard in enumerate(shards) if not shard.is_file()]  # finished shards are kept
        indices = [i for k in todo for i in range(k * shard_size, min(n, (k + 1) * shard_size))]
        view = copy.copy(dataset)
        view.transform = None
        loader = DataLoader(
            _Encoded(view, compress_level), batch_size=None, sampler=indices, num_workers=num_workers,
            collate_fn=_identity,
        )  # fmt: skip
        items: Iterator[tuple[bytes, dict[str, Any]]] = iter(loader)
        for k in todo:
            count = min(n, (k + 1) * shard_size) - k * shard_size
            atomic_write(
                shards[k], partial(_write_shard, items=itertools.islice(items, count), first=k * shard_size)
            )
        info = dataclasses.asdict(dataset.info)
        record = {
            "format_version": WDS_FORMAT, "eval_set": dataset.info.name, "class_names": info["class_names"],
            "id_set": dataset.info.id_set, "num_samples": n, "shards": [s.name for s in shards],
            "mcq": False, "info": info, "key": key,
            "sample_ids": [dataset.sample_id(i) for i in range(n)],
        }  # fmt: skip
        atomic_write_text(meta, json.dumps(record) + "\n")
    return CachedCorruptedDataset(meta, transform=dataset.transform)


def _info(fields: Mapping[str, Any]) -> EvalSetInfo:
    tuples = ("class_names", "templates", "head_names", "head_to_class")
    return EvalSetInfo(**{k: tuple(v) if k in tuples and v is not None else v for k, v in fields.items()})


def _index_shard(path: Path, first: int, count: int) -> list[tuple[int, int, int, int]]:
    """``(png offset, png size, json offset, json size)`` of samples ``first .. first + count - 1``."""
    size = path.stat().st_size
    try:
        with tarfile.open(path, "r:") as tar:
            members = tar.getmembers()
    except (OSError, tarfile.TarError) as err:
        raise CorruptCacheError(f"{path}: cannot read the shard ({type(err).__name__}: {err})") from err
    expected = [f"{i:08d}.{ext}" for i in range(first, first + count) for ext in ("png", "json")]
    names = [m.name for m in members]
    if names != expected:
        raise CorruptCacheError(
            f"{path}: {len(names)} members where the meta file lists {len(expected)} "
            f"({count} samples from {first}); the shard is damaged or truncated: delete it to regenerate"
        )
    cut = next((m for m in members if not m.isfile() or m.offset_data + m.size > size), None)
    if cut is not None:
        raise CorruptCacheError(
            f"{path}: member {cut.name} is cut short (file truncated): delete it to regenerate"
        )
    return [
        (png.offset_data, png.size, js.offset_data, js.size)
        for png, js in zip(members[::2], members[1::2], strict=True)
    ]


class CachedCorruptedDataset(Dataset[dict[str, Any]]):
    """A corrupted set read from :func:`cache_corrupted`'s shards: the same items as the on-the-fly set.

    Items are ``{"image": transform(PIL RGB image), "label", "index"}`` plus ``labels`` (``(C,)`` bool
    multi-hot) for a multi-label set; ``sample_id(i)`` and :attr:`info` are those of the corrupted set.

    Args:
        meta: the cache's ``<set>-<key>.meta.json``.
        transform: PIL image -> model input; ``None`` yields PIL images.

    Raises:
        CorruptCacheError: a shard is missing, damaged or truncated (named).
    """

    def __init__(
        self, meta: str | os.PathLike[str], transform: Callable[[Image.Image], Any] | None = None
    ) -> None:
        self.meta = Path(meta)
        record = json.loads(self.meta.read_text(encoding="utf-8"))
        self.info = _info(record["info"])
        self.key: dict[str, Any] = record["key"]
        self.transform = transform
        self._ids: list[str] = record["sample_ids"]
        self.shards = [self.meta.parent / name for name in record["shards"]]
        n, per = len(self._ids), int(self.key["shard_size"])
        self._rows: list[tuple[Path, int, int, int, int]] = []  # per sample: shard, png/json offset and size
        for k, shard in enumerate(self.shards):
            if not shard.is_file():
                raise CorruptCacheError(f"{shard}: shard listed in {self.meta} is missing")
            rows = _index_shard(shard, k * per, min(per, n - k * per))
            self._rows += [(shard, *row) for row in rows]

    def __len__(self) -> int:
        return len(self._ids)

    def sample_id(self, i: int) -> str:
        """Stable id of item ``i`` (the base set's)."""
        return self._ids[i]

    def __getitem__(self, i: int) -> dict[str, Any]:
        shard, png_at, png_size, json_at, json_size = self._rows[i]
        with open(shard, "rb") as f:
            f.seek(png_at)
            png = f.read(png_size)
            f.seek(json_at)
            raw = f.read(json_size)
        where = f"{shard}:{i:08d}"
        if len(png) != png_size or len(raw) != json_size:
            raise CorruptCacheError(
                f"{where}: member cut short (file truncated): delete the shard to regenerate"
            )
        try:
            record = json.loads(raw)
        except ValueError as err:
            raise CorruptCacheError(f"{where}.json: not JSON ({err})") from err
        image = decode_image(png, 0, f"{where}.png")
        item: dict[str, Any] = {
            "image": self.transform(image) if self.transform is not None else image,
            "label": record["label"],
            "index": i,
        }
        if "labels" in record:
            labels = torch.zeros(len(self.info.class_names), dtype=torch.bool)
            labels[record["labels"]] = True
            item["labels"] = labels
        return item
