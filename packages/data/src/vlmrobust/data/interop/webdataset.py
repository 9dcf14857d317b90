"""WebDataset storage: export an eval set or MCQ benchmark to tar shards (image + json), stream it back.

Each sample is two tar members with the same key (``%08d`` position): the original image file bytes
(``.jpg`` / ``.png``: never re-encoded) and a ``.json`` record with ``sample_id``, ``label``, ``labels``,
``in1k_labels`` and ``border_crop`` (MCQ exports add ``question_id``, ``options``, ``option_names``,
``answer``). ``<prefix>.meta.json`` beside the shards holds the set name, class names and shard list.
Shards are written deterministically (sorted members, zero mtimes) and renamed into place when complete.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import tarfile
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image
from torch.utils.data import IterableDataset, get_worker_info

from vlmrobust.core.atomic import atomic_write, atomic_write_text
from vlmrobust.data.imagenet.images import ImageDecodeError
from vlmrobust.data.imagenet.samples import ImageSet
from vlmrobust.data.interop.tarstream import iter_samples
from vlmrobust.data.mcq.builder import Question

WDS_FORMAT = "vlmrobust-wds/1"
_EXT = {".jpeg": "jpg", ".jpg": "jpg", ".png": "png", ".webp": "webp"}


def _member(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    return info, io.BytesIO(data)


def _records(
    image_set: ImageSet, questions: Sequence[Question] | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    if questions is None:
        for s in image_set:
            yield s.path, {
                "sample_id": s.sample_id, "label": s.label, "labels": list(s.labels),
                "in1k_labels": list(s.in1k_labels), "border_crop": image_set.border_crop,
            }  # fmt: skip
        return
    for q in questions:
        row = dataclasses.asdict(q)
        row.update(label=q.answer_class, labels=list(q.labels))
        yield q.image, row


def export_webdataset(
    image_set: ImageSet,
    out_dir: str | os.PathLike[str],
    *,
    questions: Sequence[Question] | None = None,
    shard_size: int = 1000,
    prefix: str | None = None,
) -> list[Path]:
    """Write ``image_set`` (or MCQ ``questions`` on its images) as ``<prefix>-%06d.tar`` shards.

    Args:
        image_set: the eval set (its class names go to the meta file).
        out_dir: output folder.
        questions: export these questions (one sample per question) instead of the plain set.
        shard_size: samples per shard.
        prefix: shard name prefix; default the set name (``/`` replaced by ``_``).

    Returns:
        The shard paths, in order.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    prefix = prefix or image_set.name.replace("/", "_")
    records = list(_records(image_set, questions))
    shards: list[Path] = []
    for start in range(0, len(records), shard_size):
        shard = out / f"{prefix}-{len(shards):06d}.tar"
        # atomic: a killed export never leaves a truncated shard under the final name
        chunk = records[start : start + shard_size]
        shards.append(atomic_write(shard, partial(_write_shard, records=chunk, first=start)))
    meta = {
        "format_version": WDS_FORMAT, "eval_set": image_set.name, "class_names": list(image_set.classes.names),
        "id_set": image_set.id_set, "num_samples": len(questions) if questions is not None else len(image_set),
        "shards": [s.name for s in shards], "mcq": questions is not None,
    }  # fmt: skip
    atomic_write_text(out / f"{prefix}.meta.json", json.dumps(meta, indent=2) + "\n")
    return shards


def _write_shard(tmp: Path, records: Sequence[tuple[str, dict[str, Any]]], first: int) -> None:
    """Write one shard's ``records`` (image path, JSON record) as a tar, keys numbered from ``first``."""
    with tarfile.open(tmp, "w") as tar:
        for n, (path, record) in enumerate(records, first):
            ext = _EXT.get(Path(path).suffix.lower())
            if ext is None:
                raise ValueError(f"{path}: unsupported image extension; known: {', '.join(sorted(_EXT))}")
            with open(path, "rb") as f:
                image_bytes = f.read()
            key = f"{n:08d}"
            tar.addfile(*_member(f"{key}.{ext}", image_bytes))
            tar.addfile(*_member(f"{key}.json", json.dumps(record).encode("utf-8")))


def decode_image(data: bytes, border_crop: int = 0, where: str = "<bytes>") -> Image.Image:
    """Decode image bytes to RGB and crop ``border_crop`` pixels per side (as ``load_image`` does)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            rgb = img.convert("RGB")
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageDecodeError(f"{where}: cannot decode image ({type(err).__name__}: {err})") from err
    if border_crop:
        w, h = rgb.size
        rgb = rgb.crop((border_crop, border_crop, w - border_crop, h - border_crop))
    return rgb


class WebDatasetStream(IterableDataset):
    """Stream shards written by :func:`export_webdataset`, yielding eval-batch dicts.

    Items are ``{"image", "label", "index", "sample_id", ...json fields}`` with ``image`` decoded (RGB,
    border-cropped) and passed through ``transform``. ``index`` is the sample's position in the export.
    Local shards are read with a fast ustar reader (``tarstream``); other URLs (``pipe:``, ``http(s):``,
    brace patterns) through the ``webdataset`` library. Under several DataLoader workers, worker w
    reads shards w, w + W, ...

    Args:
        shards: shard paths or URLs.
        transform: PIL image -> model input; ``None`` yields PIL images.
    """

    def __init__(self, shards: Sequence[str | os.PathLike[str]], transform: Callable | None = None) -> None:
        self.urls = [str(s) for s in shards]
        self.transform = transform

    def _groups(self, urls: list[str]) -> Iterator[tuple[str, str, dict[str, bytes]]]:
        for url in urls:
            if os.path.isfile(url):
                for key, group in iter_samples(url):
                    yield url, key, group
            else:
                import webdataset as wds

                for sample in wds.WebDataset([url], shardshuffle=False, empty_check=False):
                    group = {k: v for k, v in sample.items() if not k.startswith("__")}
                    yield url, sample["__key__"], group

    def __iter__(self) -> Iterator[dict[str, Any]]:
        worker = get_worker_info()
        urls = self.urls if worker is None else self.urls[worker.id :: worker.num_workers]
        for url, key, group in self._groups(urls):
            image_ext = next((e for e in ("jpg", "png", "webp") if e in group), None)
            if image_ext is None or "json" not in group:
                raise ValueError(f"{url}: sample {key!r} lacks an image or a json member")
            record = json.loads(group["json"])
            image = decode_image(group[image_ext], record.get("border_crop", 0), f"{url}:{key}.{image_ext}")
            record["image"] = self.transform(image) if self.transform is not None else image
            record["index"] = int(key)
            yield record
