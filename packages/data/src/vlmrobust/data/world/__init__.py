"""The procedural world: a download-free, seeded generator of shape images, captions and shifts.

Lightning is only imported by :mod:`vlmrobust.data.datamodules.world` (``WorldDataModule``), not here.
"""

from vlmrobust.data.world.classes import (
    BACKGROUNDS,
    CLASS_NAMES,
    COLOURS,
    FAMILIES,
    PARENT,
    RENDITION_COLOURS,
    ROOT,
    ancestors,
    class_index,
    family,
    tree_distance,
)
from vlmrobust.data.world.datasets import (
    CaptionDataset,
    LabelledDataset,
    SceneDataset,
    collate_captions,
    collate_scenes,
    to_tensor,
)
from vlmrobust.data.world.domains import DOMAINS, SHIFTS, Domain, get_domain, render
from vlmrobust.data.world.generator import SPLITS, ProceduralWorld, WorldSample
from vlmrobust.data.world.scenes import RELATIONS, Scene, SceneObject, generate_scene

__all__ = [
    "BACKGROUNDS",
    "CLASS_NAMES",
    "COLOURS",
    "DOMAINS",
    "FAMILIES",
    "PARENT",
    "RELATIONS",
    "RENDITION_COLOURS",
    "ROOT",
    "SHIFTS",
    "SPLITS",
    "CaptionDataset",
    "Domain",
    "LabelledDataset",
    "ProceduralWorld",
    "Scene",
    "SceneDataset",
    "SceneObject",
    "WorldSample",
    "ancestors",
    "class_index",
    "collate_captions",
    "collate_scenes",
    "family",
    "generate_scene",
    "get_domain",
    "render",
    "to_tensor",
    "tree_distance",
]
