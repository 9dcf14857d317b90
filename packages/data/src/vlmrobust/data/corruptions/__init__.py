"""ImageNet-C corruptions on the fly for any eval set (the procedural world's included), optionally cached.

* :func:`corrupt`: one of the 15 :data:`CORRUPTIONS` at severity 1-5 on a PIL image, bitwise deterministic
  by (corruption, seed, sample id), through bethgelab's ``imagecorruptions`` (the ``corruptions`` extra:
  ``pip install 'vlmrobust-data[corruptions]'``; :mod:`.library` makes it work on current dependencies).
* :class:`CorruptedDataset`: an eval dataset with the corruption applied before its image transform, as eval
  set ``<base>/c/<corruption>/<severity>`` (``world/c/...`` for the world) paired with the base's ID set.
* :func:`cache_corrupted` / :class:`CachedCorruptedDataset`: the corrupted images written once to WebDataset
  shards (PNG) and read back with the same items.
"""

from vlmrobust.data.corruptions.apply import (
    CORRUPTIONS,
    SEVERITIES,
    CorruptionName,
    check_corruption,
    corrupt,
    corruption_rng,
)
from vlmrobust.data.corruptions.cache import CachedCorruptedDataset, CorruptCacheError, cache_corrupted
from vlmrobust.data.corruptions.dataset import CorruptedDataset, corrupted_info, corrupted_name

__all__ = [
    "CORRUPTIONS",
    "SEVERITIES",
    "CachedCorruptedDataset",
    "CorruptCacheError",
    "CorruptedDataset",
    "CorruptionName",
    "cache_corrupted",
    "check_corruption",
    "corrupt",
    "corrupted_info",
    "corrupted_name",
    "corruption_rng",
]
