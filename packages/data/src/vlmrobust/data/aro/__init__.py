"""ARO (Yuksekgonul et al., ICLR 2023): VG-Relation and VG-Attribution read from the official files in place.

``read_vg_relation`` / ``read_vg_attribution`` give ``captions`` sets whose options are
``(false_caption, true_caption)`` (answer 1, the official order); ``SYMMETRIC_RELATIONS`` are the relations
the VG-Relation macro accuracy leaves out; ``write_vg_relation`` / ``write_vg_attribution`` write synthetic
files in the official layout for tests.
"""

from vlmrobust.data.aro.fixtures import write_vg_attribution, write_vg_relation
from vlmrobust.data.aro.reader import (
    SYMMETRIC_RELATIONS,
    VGRecord,
    parse_vg,
    read_vg_attribution,
    read_vg_relation,
)

__all__ = [
    "SYMMETRIC_RELATIONS",
    "VGRecord",
    "parse_vg",
    "read_vg_attribution",
    "read_vg_relation",
    "write_vg_attribution",
    "write_vg_relation",
]
