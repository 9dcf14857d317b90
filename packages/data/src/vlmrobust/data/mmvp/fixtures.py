"""Writers of small synthetic MMVP and MMVP-VLM folders in the official layout, with real JPEG images.

Layouts (``shared/reference/data_formats.md`` §5): ``<root>/Questions.csv`` with the exact official
header, and ``<root>/MMVP Images/<row>.jpg`` or ``<root>/MLLM_VLM Images/<Type>/<qid>.jpg``. Every image is
a uniform colour, ``class_color(n)`` of its row number / qid ``n``, so a test can tell which file was read.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from vlmrobust.core.atomic import atomic_write_text
from vlmrobust.data.imagenet.fixtures.images import class_color, image_bytes, write_file
from vlmrobust.data.mmvp.reader import (
    CATEGORIES,
    MMVP_COLUMNS,
    MMVP_IMAGE_DIR,
    MMVP_VLM_COLUMNS,
    MMVP_VLM_IMAGE_DIR,
    PAIRS_PER_PATTERN,
    QUESTIONS_FILE,
)

#: MMVP-VLM's ``Type`` values (= image folders), one per pattern of ``CATEGORIES``, in CSV order.
TYPE_FOLDERS: tuple[str, ...] = (
    "Orientation",
    "Presence",
    "State",
    "Quantity",
    "Spatial",
    "Color",
    "Structural Character",
    "Text",
    "Camera Perspective",
)
#: Questions of the synthetic MMVP pairs (pair k asks ``MMVP_QUESTIONS[k % 3]``); one needs CSV quoting.
MMVP_QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("Are the butterfly's wings closer to being open or closed?", "Open", "Closed"),
    ("Looking at the dog, is it facing left or right?", "Left", "Right"),
    ("Is the door of the truck cab open?", "Yes", "No"),
)
#: Statements of the synthetic MMVP-VLM pairs (pair k states ``MMVP_VLM_STATEMENTS[k % 3]``).
MMVP_VLM_STATEMENTS: tuple[tuple[str, str], ...] = (
    ("The butterfly's wings are open", "The butterfly's wings are closed"),
    ("The dog is facing left", "The dog is facing right"),
    ("There is text, on the sign", "There is no text on the sign"),
)


def _csv(header: tuple[str, ...], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def _image(path: Path, n: int, image_size: int) -> None:
    write_file(path, image_bytes("JPEG", class_color(n), (image_size, image_size)))


def write_mmvp(root: str | os.PathLike[str], n_pairs: int, image_size: int = 8) -> Path:
    """Write a synthetic MMVP folder of ``n_pairs`` question pairs (``2 * n_pairs`` rows) under ``root``.

    Pair ``k`` (rows ``2k + 1``, ``2k + 2``) asks ``MMVP_QUESTIONS[k % 3]`` with ``Options``
    ``"(a) X (b) Y"``; row ``2k + 1`` answers ``(a)`` for even ``k`` and ``(b)`` for odd ``k``, row ``2k + 2``
    the other. ``Index`` is the row number; row ``r``'s image is ``MMVP Images/<r>.jpg`` of colour
    ``class_color(r)``.

    Args:
        root: output folder (created).
        n_pairs: number of question pairs.
        image_size: side of the square images in pixels.

    Returns:
        ``root``, to pass to ``read_mmvp``.
    """
    if n_pairs < 0:
        raise ValueError(f"n_pairs must be >= 0, got {n_pairs}")
    root = Path(root)
    (root / MMVP_IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n_pairs):
        question, x, y = MMVP_QUESTIONS[k % len(MMVP_QUESTIONS)]
        answers = ("(a)", "(b)") if k % 2 == 0 else ("(b)", "(a)")
        for j, answer in enumerate(answers):
            r = 2 * k + j + 1
            rows.append([str(r), question, f"(a) {x} (b) {y}", answer])
            _image(root / MMVP_IMAGE_DIR / f"{r}.jpg", r, image_size)
    atomic_write_text(root / QUESTIONS_FILE, _csv(MMVP_COLUMNS, rows))
    return root


def write_mmvp_vlm(root: str | os.PathLike[str], n_pairs: int, image_size: int = 8) -> Path:
    """Write a synthetic MMVP-VLM folder of ``n_pairs`` statement pairs (at most 9 x 15) under ``root``.

    Pair ``k`` is qids ``2k + 1`` and ``2k + 2`` with ``Type`` ``TYPE_FOLDERS[k // 15]`` (both rows) and the
    statements ``MMVP_VLM_STATEMENTS[k % 3]``; qid ``q``'s image is ``MLLM_VLM Images/<Type>/<q>.jpg`` of
    colour ``class_color(q)``.

    Args:
        root: output folder (created).
        n_pairs: number of statement pairs (0 to 135).
        image_size: side of the square images in pixels.

    Returns:
        ``root``, to pass to ``read_mmvp_vlm``.
    """
    limit = len(CATEGORIES) * PAIRS_PER_PATTERN
    if not 0 <= n_pairs <= limit:
        raise ValueError(f"n_pairs must be in 0..{limit} (9 patterns x 15 pairs), got {n_pairs}")
    root = Path(root)
    (root / MMVP_VLM_IMAGE_DIR).mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n_pairs):
        folder = TYPE_FOLDERS[k // PAIRS_PER_PATTERN]
        for j, statement in enumerate(MMVP_VLM_STATEMENTS[k % len(MMVP_VLM_STATEMENTS)]):
            q = 2 * k + j + 1
            rows.append([str(q), folder, statement])
            _image(root / MMVP_VLM_IMAGE_DIR / folder / f"{q}.jpg", q, image_size)
    atomic_write_text(root / QUESTIONS_FILE, _csv(MMVP_VLM_COLUMNS, rows))
    return root
