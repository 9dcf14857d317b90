"""Writer of small synthetic hard-positive benchmarks in the official layout, with JPEG images.

``<root>/data/<file>`` and ``<root>/swapped_data/<file>`` (``BENCHMARK_FILES``), aligned by index. REPLACE
images lie at ``<root>/data/VG_100K/<id>.jpg`` or ``<root>/data/VG_100K_2/<id>.jpg`` (``image_path``
``data/VG_100K.../<id>.jpg``, string ``image_id``); SWAP records are ARO VG-Attribution records with their
images in ``<root>/data/images/``. Either way the image root to read with is ``<root>/data``. As in the
real files, two consecutive records share an image, and REPLACE-att captions keep an upper-case ``ON``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from vlmrobust.core.atomic import atomic_write_text
from vlmrobust.data.aro.fixtures import vg_box, write_jpeg
from vlmrobust.data.hard_positives.reader import BENCHMARK_FILES, Benchmark

#: (original caption c, hard negative c_n, hard positive c_p) examples of each benchmark.
EXAMPLES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "replace-att": (
        ("walking elephant", "jumping elephant", "strolling elephant"),
        ("hat ON seated man", "hat ON running man", "hat ON sitting man"),
        ("upright giraffe", "lying giraffe", "standing giraffe"),
    ),
    "replace-rel": (
        ("man riding horse", "man feeding horse", "man on horse"),
        ("cup on table", "cup under table", "cup sitting on table"),
        ("dog chasing ball", "dog eating ball", "dog running after ball"),
    ),
    "swap": (
        (
            "the paved road and the white house",
            "the white road and the paved house",
            "the white house and the paved road",
        ),
        (
            "the wooden table and the red chair",
            "the red table and the wooden chair",
            "the red chair and the wooden table",
        ),
    ),
}
#: The ``attributes`` of each SWAP example.
SWAP_ATTRIBUTES: tuple[tuple[str, str], ...] = (("paved", "white"), ("wooden", "red"))
_FIRST_IMAGE_ID = 2401814


@dataclass(frozen=True)
class HardPositiveFiles:
    """Paths of a written synthetic benchmark: pass them to ``read_hard_positives(root, ..., image_root)``."""

    root: Path
    image_root: Path


def write_hard_positives(
    root: str | os.PathLike[str], benchmark: Benchmark = "replace-att", n: int = 4, image_size: int = 32
) -> HardPositiveFiles:
    """Write both files of a synthetic hard-positive benchmark (``n`` aligned records) and its images.

    Args:
        root: output folder (the repository root; created).
        benchmark: ``replace-att``, ``replace-rel`` or ``swap``.
        n: number of records; record ``i`` uses ``EXAMPLES[benchmark][i % len]``, records ``2j`` and
            ``2j + 1`` share an image.
        image_size: image width in pixels (height is 3/4 of it).

    Returns:
        The root and the image root (``<root>/data``).
    """
    if benchmark not in BENCHMARK_FILES:
        raise ValueError(
            f"unknown hard-positive benchmark {benchmark!r}; valid: {', '.join(BENCHMARK_FILES)}"
        )
    root = Path(root)
    image_root = root / "data"
    data, swapped = [], []
    for i in range(n):
        original, negative, positive = EXAMPLES[benchmark][i % len(EXAMPLES[benchmark])]
        image_id = _FIRST_IMAGE_ID + i // 2
        if benchmark == "swap":
            image_path, file = f"{image_id}.jpg", image_root / "images" / f"{image_id}.jpg"
            common = {"image_id": image_id, "attributes": list(SWAP_ATTRIBUTES[i % len(SWAP_ATTRIBUTES)]), "image_path": image_path,
                      **vg_box(i, image_size)}  # fmt: skip
        else:
            folder = "VG_100K" if i // 2 % 2 == 0 else "VG_100K_2"
            image_path = f"data/{folder}/{image_id}.jpg"
            file = root / image_path
            common = {"image_id": str(image_id), "image_path": image_path}
        if i % 2 == 0:
            write_jpeg(file, image_size, image_size * 3 // 4, i // 2)
        data.append({**common, "true_caption": original, "false_caption": negative})
        swapped.append({**common, "true_caption": positive, "false_caption": negative})
    for folder, records in (("data", data), ("swapped_data", swapped)):
        atomic_write_text(root / folder / BENCHMARK_FILES[benchmark], json.dumps(records))
    return HardPositiveFiles(root, image_root)
