"""Classes of the procedural world: shapes in a two-level hierarchy, plus the colour attributes.

The hierarchy is ``shape`` (root) -> family -> class, so the tree distance (number of edges on the path
between two leaves, as for WordNet) is 2 within a family and 4 across families.
"""

from __future__ import annotations

from types import MappingProxyType

from vlmrobust.core.suggest import did_you_mean

#: Root of the hierarchy.
ROOT = "shape"

#: Families (level 1) and their classes (level 2, the labels), in label order.
FAMILIES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "round": ("circle", "ellipse", "ring", "semicircle", "crescent"),
        "polygon": (
            "triangle",
            "square",
            "rectangle",
            "diamond",
            "pentagon",
            "hexagon",
            "trapezoid",
            "parallelogram",
        ),
        "symbol": ("star", "cross", "plus", "heart", "arrow"),
    }
)

#: Class names in label order; each is the surface form used in captions and zero-shot prompts.
CLASS_NAMES: tuple[str, ...] = tuple(c for classes in FAMILIES.values() for c in classes)

#: Child -> parent for every node except the root (classes -> family, families -> root).
PARENT: MappingProxyType[str, str] = MappingProxyType(
    {**{c: fam for fam, classes in FAMILIES.items() for c in classes}, **dict.fromkeys(FAMILIES, ROOT)}
)

#: Colour attributes of the ID domain (name -> RGB in [0, 1]); the class never depends on them.
COLOURS: MappingProxyType[str, tuple[float, float, float]] = MappingProxyType(
    {
        "red": (0.85, 0.10, 0.10),
        "orange": (0.95, 0.50, 0.05),
        "yellow": (0.92, 0.80, 0.05),
        "green": (0.15, 0.60, 0.15),
        "blue": (0.10, 0.25, 0.85),
        "purple": (0.50, 0.15, 0.65),
        "pink": (0.95, 0.40, 0.65),
        "brown": (0.50, 0.30, 0.12),
        "black": (0.08, 0.08, 0.08),
        "grey": (0.45, 0.45, 0.45),
    }
)

#: The rendition domain's palette: hues absent from ``COLOURS``.
RENDITION_COLOURS: MappingProxyType[str, tuple[float, float, float]] = MappingProxyType(
    {
        "teal": (0.00, 0.55, 0.55),
        "magenta": (0.85, 0.00, 0.75),
        "lime": (0.60, 0.90, 0.10),
        "navy": (0.05, 0.08, 0.40),
        "maroon": (0.45, 0.02, 0.12),
        "gold": (0.80, 0.62, 0.10),
        "cyan": (0.20, 0.85, 0.95),
        "olive": (0.45, 0.45, 0.05),
        "coral": (1.00, 0.50, 0.42),
        "lavender": (0.70, 0.60, 0.95),
    }
)

#: Plain light backgrounds of the ID domain (name -> RGB in [0, 1]).
BACKGROUNDS: MappingProxyType[str, tuple[float, float, float]] = MappingProxyType(
    {
        "white": (0.97, 0.97, 0.97),
        "light grey": (0.84, 0.84, 0.84),
        "cream": (0.96, 0.92, 0.80),
        "light blue": (0.84, 0.91, 0.98),
        "light green": (0.86, 0.95, 0.86),
    }
)


def class_index(name: str) -> int:
    """Label of class ``name``; unknown names fail with a did-you-mean listing the classes."""
    try:
        return CLASS_NAMES.index(name)
    except ValueError:
        raise KeyError(
            f"Unknown world class {name!r}. {did_you_mean(name, CLASS_NAMES, 'classes')}"
        ) from None


def ancestors(node: str) -> list[str]:
    """Path from ``node`` up to the root, both included (e.g. ``["circle", "round", "shape"]``)."""
    if node != ROOT and node not in PARENT:
        raise KeyError(f"Unknown world node {node!r}. {did_you_mean(node, [ROOT, *PARENT], 'nodes')}")
    path = [node]
    while path[-1] != ROOT:
        path.append(PARENT[path[-1]])
    return path


def tree_distance(a: str, b: str) -> int:
    """Number of edges on the path between nodes ``a`` and ``b`` of the hierarchy (WordNet-style)."""
    up_a, up_b = ancestors(a), ancestors(b)
    common = next(n for n in up_a if n in up_b)
    return up_a.index(common) + up_b.index(common)


def family(name: str) -> str:
    """Family of class ``name``."""
    return PARENT[CLASS_NAMES[class_index(name)]]
