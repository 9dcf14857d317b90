"""Two-object scenes with a spatial relation, for What'sUp- and ARO-style items and hard negatives.

A scene shows ``first`` and ``second`` (two different shapes in two different colours, ID style) with
``first <relation> second``. Its captions come with the hard negatives and hard positives of the
compositionality literature:

* relation options (What'sUp): the four relations, gold first; the 2-way negative is the opposite relation;
* swapped objects (ARO VG-Relation): ``"a blue square to the left of a red circle"``;
* swapped attributes (ARO VG-Attribution): ``"a blue circle and a red square"``;
* hard positives (same meaning, other words): objects swapped *and* relation reversed, or conjuncts reordered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.world import raster as R
from vlmrobust.data.world.captions import tidy
from vlmrobust.data.world.classes import BACKGROUNDS, CLASS_NAMES, COLOURS
from vlmrobust.data.world.geometry import place, shape_rings

Relation = Literal["left of", "right of", "above", "below"]

#: The spatial relations, in the fixed order of the What'sUp options after the gold one.
RELATIONS: tuple[Relation, ...] = ("left of", "right of", "above", "below")
OPPOSITE: dict[str, Relation] = {
    "left of": "right of",
    "right of": "left of",
    "above": "below",
    "below": "above",
}
_PHRASE = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}
_ANSWER = {"left of": "left", "right of": "right", "above": "above", "below": "below"}
_AXIS = {
    "left of": (-1, 0),
    "right of": (1, 0),
    "above": (0, -1),
    "below": (0, 1),
}  # first minus second, y down


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene: its class name and colour name."""

    shape: str
    colour: str

    def phrase(self, colour: str | None = None) -> str:
        """Noun phrase with an article, optionally with another colour: ``"a red circle"``."""
        return tidy(f"a {colour or self.colour} {self.shape}")


@dataclass(frozen=True)
class Scene:
    """A rendered two-object scene: ``first <relation> second``.

    Attributes:
        image: RGB PIL image.
        first: the subject of the relation.
        second: the reference object.
        relation: where ``first`` is relative to ``second``.
        centres: pixel centres ``((x, y) of first, (x, y) of second)``, y pointing down.
    """

    image: Image.Image
    first: SceneObject
    second: SceneObject
    relation: Relation
    centres: tuple[tuple[float, float], tuple[float, float]]

    @property
    def relation_phrase(self) -> str:
        """The relation as the captions word it: ``"to the left of"``, ``"above"`` ..."""
        return _PHRASE[self.relation]

    def relation_caption(self, relation: str | None = None) -> str:
        """``"a red circle to the left of a blue square"`` (with ``relation`` instead of the true one if given)."""
        return f"{self.first.phrase()} {_PHRASE[relation or self.relation]} {self.second.phrase()}"

    @property
    def relation_options(self) -> list[str]:
        """What'sUp-style options: the gold caption first, then the other three relations."""
        return [self.relation_caption()] + [self.relation_caption(r) for r in RELATIONS if r != self.relation]

    @property
    def relation_negative(self) -> str:
        """The caption with the opposite relation (What'sUp 2-way)."""
        return self.relation_caption(OPPOSITE[self.relation])

    @property
    def swapped_objects(self) -> str:
        """Subject and object exchanged, relation kept (ARO VG-Relation false option)."""
        return f"{self.second.phrase()} {_PHRASE[self.relation]} {self.first.phrase()}"

    @property
    def relation_positive(self) -> str:
        """Same meaning, other words: objects exchanged and relation reversed (hard positive)."""
        return f"{self.second.phrase()} {_PHRASE[OPPOSITE[self.relation]]} {self.first.phrase()}"

    @property
    def attribute_caption(self) -> str:
        """Attribute-binding caption: ``"a red circle and a blue square"``."""
        return f"{self.first.phrase()} and {self.second.phrase()}"

    @property
    def attribute_negative(self) -> str:
        """Colours swapped between the objects (ARO VG-Attribution false option)."""
        return f"{self.first.phrase(self.second.colour)} and {self.second.phrase(self.first.colour)}"

    @property
    def attribute_positive(self) -> str:
        """Same meaning, other words: the conjuncts reordered (hard positive)."""
        return f"{self.second.phrase()} and {self.first.phrase()}"

    def questions(self) -> list[tuple[str, str]]:
        """VQA-style (question, answer) pairs about the scene."""
        a, b = self.first, self.second
        return [
            (f"What colour is the {a.shape}?", a.colour),
            (f"What colour is the {b.shape}?", b.colour),
            (f"Is the {a.shape} {_PHRASE[self.relation]} the {b.shape}?", "yes"),
            (f"Is the {a.shape} {_PHRASE[OPPOSITE[self.relation]]} the {b.shape}?", "no"),
            (f"Where is the {a.shape} relative to the {b.shape}?", _ANSWER[self.relation]),
        ]


def _check_objects(first: SceneObject, second: SceneObject) -> None:
    for obj in (first, second):
        if obj.shape not in CLASS_NAMES:
            raise ValueError(
                f"unknown scene shape {obj.shape!r}. {did_you_mean(obj.shape, CLASS_NAMES, 'shapes')}"
            )
        if obj.colour not in COLOURS:
            raise ValueError(
                f"unknown scene colour {obj.colour!r}. {did_you_mean(obj.colour, COLOURS, 'colours')}"
            )
    if first.shape == second.shape or first.colour == second.colour:
        raise ValueError(f"a scene's objects differ in shape and in colour, got {first} and {second}")


def generate_scene(
    rng: np.random.Generator,
    image_size: int = 32,
    *,
    first: SceneObject | None = None,
    second: SceneObject | None = None,
    relation: Relation | None = None,
) -> Scene:
    """Draw a two-object scene in the ID style (filled shapes, plain light background, mild noise).

    The objects never overlap, and their offset across the relation's axis is at most a third of their
    offset along it, so the relation is unambiguous. The objects and the relation are drawn unless given;
    they are drawn from ``rng`` either way, so without the keyword arguments the scene is the one drawn
    before they existed.

    Args:
        rng: the scene's generator.
        image_size: side of the square image in pixels.
        first: the subject (shape and colour); given together with ``second``.
        second: the reference object; another shape and another colour than ``first``.
        relation: where ``first`` is relative to ``second`` (one of ``RELATIONS``).

    Raises:
        ValueError: only one of ``first``/``second`` given, an unknown shape, colour or relation, or two
            objects sharing a shape or a colour.
    """
    if (first is None) != (second is None):
        raise ValueError("generate_scene: give first and second together (or neither)")
    if relation is not None and relation not in RELATIONS:
        raise ValueError(
            f"unknown scene relation {relation!r}. {did_you_mean(relation, RELATIONS, 'relations')}"
        )
    size = image_size
    k = len(CLASS_NAMES)
    ia = int(rng.integers(k))
    ib = (ia + 1 + int(rng.integers(k - 1))) % k
    colours = list(COLOURS)
    ca, cb = (colours[j] for j in rng.permutation(len(colours))[:2])
    drawn = RELATIONS[int(rng.integers(len(RELATIONS)))]
    relation = drawn if relation is None else relation
    if first is None or second is None:
        first, second = SceneObject(CLASS_NAMES[ia], ca), SceneObject(CLASS_NAMES[ib], cb)
    else:
        _check_objects(first, second)
    ra, rb = rng.uniform(0.12, 0.18, size=2) * size
    sep = 1.2 * (ra + rb) + rng.uniform(0.03, 0.10) * size
    along = np.asarray(_AXIS[relation], dtype=np.float64)  # unit vector from second to first
    across = along[::-1].copy()
    centre = size / 2 + rng.uniform(-0.03, 0.03, size=2) * size
    skew = rng.uniform(-1 / 3, 1 / 3) * sep
    pa = centre + along * sep / 2 + across * skew / 2
    pb = centre - along * sep / 2 - across * skew / 2
    bg = BACKGROUNDS[list(BACKGROUNDS)[int(rng.integers(len(BACKGROUNDS)))]]
    canvas = R.solid(size, R.jitter(bg, 0.02, rng))
    for obj, (x, y), r in ((first, pa, ra), (second, pb, rb)):
        rings = place(shape_rings(obj.shape, rng), x, y, r, rng.uniform(-10, 10))
        R.paint(canvas, R.fill_mask(rings, size), R.jitter(COLOURS[obj.colour], 0.06, rng))
    R.add_noise(canvas, 0.025, rng)
    centres = ((float(pa[0]), float(pa[1])), (float(pb[0]), float(pb[1])))
    return Scene(R.to_pil(canvas), first, second, relation, centres)
