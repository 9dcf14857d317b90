"""MMVP and MMVP-VLM (tsb0601/MMVP, CVPR 2024), read from the official folders in place.

``read_mmvp`` serves MMVP's two-option questions as a ``captions`` set (``question`` + option texts, pairs of
consecutive rows, an optional ground-truth fix); ``read_mmvp_vlm`` serves MMVP-VLM's statements as an
``images`` set (each statement against its pair's two images, 9 patterns of 15 pairs). ``write_mmvp`` and
``write_mmvp_vlm`` write synthetic folders in the official layout for tests.
"""

from vlmrobust.data.mmvp.fixtures import TYPE_FOLDERS, write_mmvp, write_mmvp_vlm
from vlmrobust.data.mmvp.reader import (
    CATEGORIES,
    GT_FIX_ROWS,
    MMVP_IMAGE_DIR,
    MMVP_VLM_IMAGE_DIR,
    QUESTIONS_FILE,
    parse_answer,
    parse_options,
    read_mmvp,
    read_mmvp_vlm,
)

__all__ = [
    "CATEGORIES",
    "GT_FIX_ROWS",
    "MMVP_IMAGE_DIR",
    "MMVP_VLM_IMAGE_DIR",
    "QUESTIONS_FILE",
    "TYPE_FOLDERS",
    "parse_answer",
    "parse_options",
    "read_mmvp",
    "read_mmvp_vlm",
    "write_mmvp",
    "write_mmvp_vlm",
]
