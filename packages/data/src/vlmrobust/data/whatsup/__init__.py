"""What'sUp (Kamath et al., EMNLP 2023): Controlled_Images A/B and COCO-/GQA-spatial, read in place.

``read_whatsup`` gives the 4-option Controlled_Images sets (``whatsup-a``, ``whatsup-b`` and the procedural
world's ``whatsup-world``) with the object pair, relation and opposite-preposition caption of each image;
``read_spatial`` the 2-option COCO-/GQA-spatial sets with the official preposition labels. ``write_whatsup``
and ``write_spatial`` write synthetic files in the official layout for tests.
"""

from vlmrobust.data.whatsup.fixtures import WhatsUpFiles, write_spatial, write_whatsup
from vlmrobust.data.whatsup.reader import (
    CONTROLLED_FILES,
    OPPOSITE,
    SPATIAL_FILES,
    SUBSET_RELATIONS,
    object_pair,
    read_spatial,
    read_whatsup,
    spatial_relation,
)

__all__ = [
    "CONTROLLED_FILES",
    "OPPOSITE",
    "SPATIAL_FILES",
    "SUBSET_RELATIONS",
    "WhatsUpFiles",
    "object_pair",
    "read_spatial",
    "read_whatsup",
    "spatial_relation",
    "write_spatial",
    "write_whatsup",
]
