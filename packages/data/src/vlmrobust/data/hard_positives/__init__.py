"""Hard positives (Kamath et al., ECCV 2024): REPLACE-att, REPLACE-rel and SWAP, read from the official files.

``read_hard_positives`` aligns ``data/<file>`` with ``swapped_data/<file>`` and gives ``captions`` sets with
options ``(c, c_n, c_p)``: original caption, hard negative and hard positive (answer 0);
``write_hard_positives`` writes synthetic files in the official layout for tests.
"""

from vlmrobust.data.hard_positives.fixtures import HardPositiveFiles, write_hard_positives
from vlmrobust.data.hard_positives.reader import (
    BENCHMARK_FILES,
    Benchmark,
    read_hard_positives,
    replace_image_path,
)

__all__ = [
    "BENCHMARK_FILES",
    "Benchmark",
    "HardPositiveFiles",
    "read_hard_positives",
    "replace_image_path",
    "write_hard_positives",
]
