"""Class centroids of image features (for ``visual`` distractors), cached to disk, and their distances.

Features come precomputed (``(N, D)`` with a label per row) or from an encoder callable run over an
``ImageSet``; the encoder maps a list of PIL images to an ``(B, D)`` array. Centroids are cached as
``.npz`` under a key of the encoder name, the set name and a hash of its sample ids, so a second build
with the same encoder never re-encodes.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from vlmrobust.core.atomic import atomic_write
from vlmrobust.data.imagenet.images import load_image
from vlmrobust.data.imagenet.samples import ImageSet

Encoder = Callable[[list[Image.Image]], np.ndarray]
Metric = Literal["cosine", "euclidean"]


def class_centroids(features: np.ndarray, labels: Sequence[int], num_classes: int) -> np.ndarray:
    """Mean feature of every class; rows of classes without a sample are NaN.

    Args:
        features: ``(N, D)`` features.
        labels: ``N`` class indices in ``range(num_classes)``.
        num_classes: number of classes C.

    Returns:
        ``(C, D)`` float64 centroids.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(
            f"features must be (N, D) with N = len(labels) = {len(labels)}, got {features.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got range [{labels.min()}, {labels.max()}]")
    sums = np.zeros((num_classes, features.shape[1]))
    np.add.at(sums, labels, features)  # (C, D)
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)  # (C,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


def centroid_distance(centroids: np.ndarray, metric: Metric = "cosine") -> np.ndarray:
    """``(C, C)`` distances between centroids (``1 - cos`` or Euclidean); NaN rows give NaN distances."""
    c = np.asarray(centroids, dtype=np.float64)
    if metric == "cosine":
        unit = c / np.linalg.norm(c, axis=1, keepdims=True)
        return 1.0 - unit @ unit.T
    if metric == "euclidean":
        sq = (c**2).sum(axis=1)
        return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * c @ c.T, 0.0))
    raise ValueError(f"unknown metric {metric!r}; valid: 'cosine', 'euclidean'")


def cache_key(encoder_name: str, image_set: ImageSet) -> str:
    """Cache file stem: ``<set>-<encoder>-<12 hex of the sample ids>`` (safe characters only)."""
    digest = hashlib.sha1("\n".join(s.sample_id for s in image_set).encode()).hexdigest()[:12]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in f"{image_set.name}-{encoder_name}")
    return f"{safe}-{digest}"


def encode_centroids(
    image_set: ImageSet,
    encoder: Encoder,
    *,
    encoder_name: str,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
) -> np.ndarray:
    """Class centroids of ``encoder`` features over ``image_set`` (each image counts for its first label).

    Args:
        image_set: the set whose images are encoded (border-cropped as when evaluated).
        encoder: list of PIL images -> ``(B, D)`` features.
        encoder_name: identifies the encoder in the cache key (e.g. a model spec string).
        cache_dir: folder of the ``.npz`` cache; ``None`` disables caching.
        batch_size: images per encoder call.

    Returns:
        ``(C, D)`` centroids in ``image_set``'s class order (NaN rows for classes without images).
    """
    path = None if cache_dir is None else Path(cache_dir) / f"{cache_key(encoder_name, image_set)}.npz"
    if path is not None and path.is_file():
        with np.load(path) as data:
            return data["centroids"]
    feats = []
    for start in range(0, len(image_set), batch_size):
        batch = image_set.samples[start : start + batch_size]
        out = np.asarray(encoder([load_image(s.path, image_set.border_crop) for s in batch]))
        if out.ndim != 2 or len(out) != len(batch):
            raise ValueError(f"encoder {encoder_name!r} returned shape {out.shape} for {len(batch)} images")
        feats.append(out)
    features = np.concatenate(feats) if feats else np.zeros((0, 1))
    centroids = class_centroids(features, [s.label for s in image_set], len(image_set.classes))
    if path is not None:
        atomic_write(path, lambda tmp: np.savez(tmp, centroids=centroids))  # never a half-written cache
    return centroids
