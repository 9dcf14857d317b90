"""k hard-negative captions per caption for NegCLIP training, deterministic by (seed, index), with fallbacks.

:class:`HardNegatives` maps a caption and its index (the pair index of a caption dataset) to one negative
per requested kind (column ``negative_j`` holds kind ``kinds[j]``). Every negative differs from the caption
(compared on lower-cased words, punctuation ignored) and, unless nothing else can be found, from the
caption's earlier negatives. When kind ``kinds[j]`` yields nothing usable for a caption (see
:mod:`~vlmrobust.data.perturb.negatives`: e.g. "a red circle" has no two attributed noun phrases), the
slot **falls back**, in this order, to

1. the other requested kinds, in the order they follow ``kinds[j]`` (cyclically);
2. the kinds not requested, in :data:`HARD_NEGATIVE_KINDS` order (the tag-based ones only when a requested
   kind already needs the tags): "a pink ring on the left." has no relation to swap but a spatial word
   and an attribute;
3. an ARO word-order negative: :func:`~vlmrobust.data.perturb.order.shuffle_within_trigrams` of the
   caption's words, punctuation dropped ("A circle." -> "circle A"), up to ``order_tries`` draws;
4. another image's caption (``other_caption``), an ordinary in-dataset negative, up to ``order_tries``
   draws;

and is flagged (``HardNegativeDraw.fallback``) so callers count it. If every rung only repeats an earlier
negative of the caption, that repeat is used; a caption no rung can change at all (one word and no
``other_caption``) raises ``ValueError`` naming it. Draws use ``numpy.random.default_rng([seed, SALT,
index, j])`` for slot ``j``: a caption's negatives are the same in every epoch and every process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.perturb.negatives import (
    DEFAULT_ATTRIBUTES,
    SPATIAL_OPPOSITES,
    AttributeVocabulary,
    replace_attribute,
    swap_attributes,
    swap_relation,
    swap_spatial,
)
from vlmrobust.data.perturb.order import shuffle_within_trigrams
from vlmrobust.data.perturb.tagging import Tagger, word_tokenize

HardNegativeKind = Literal["swap_attributes", "swap_relation", "replace_attribute", "swap_spatial"]
#: Every hard-negative kind, in the order of :data:`HardNegativeKind`.
HARD_NEGATIVE_KINDS: tuple[str, ...] = get_args(HardNegativeKind)
#: Kinds that read part-of-speech tags (``swap_spatial`` needs none).
TAGGED_KINDS: frozenset[str] = frozenset({"swap_attributes", "swap_relation", "replace_attribute"})
#: Second entry of the per-slot seed, so these draws are independent of other users of the same seed.
SALT = 0x4E4547


def negative_columns(k: int) -> list[str]:
    """Batch column names of ``k`` hard negatives: ``negative_0 .. negative_{k-1}``."""
    return [f"negative_{j}" for j in range(k)]


def check_kinds(kinds: Sequence[str]) -> tuple[str, ...]:
    """``kinds`` as a tuple, or ``ValueError`` with a did-you-mean for an unknown one."""
    if isinstance(kinds, str):
        raise ValueError(f"hard_negatives must be a list of kinds, got the string {kinds!r}")
    for kind in kinds:
        if kind not in HARD_NEGATIVE_KINDS:
            raise ValueError(
                f"unknown hard-negative kind {kind!r}. {did_you_mean(kind, HARD_NEGATIVE_KINDS, 'kinds')}"
            )
    return tuple(kinds)


@dataclass(frozen=True)
class HardNegativeDraw:
    """The negatives of one caption.

    Attributes:
        negatives: one caption per requested kind, in kind order.
        sources: what made each: its kind, another kind, ``"shuffle_within_trigrams"`` or ``"other_caption"``.
        fallback: whether each came from a fallback (its own kind yielded nothing usable).
    """

    negatives: tuple[str, ...]
    sources: tuple[str, ...]
    fallback: tuple[bool, ...]


class HardNegatives:
    """One hard negative per kind for a caption, deterministic by (``seed``, index); fallbacks flagged.

    Args:
        kinds: the kinds of the negative columns, ``kinds[j]`` for ``negative_j`` (a kind may repeat: its
            draws differ by slot).
        tagger: part-of-speech tagger; required when a kind reads tags (:data:`TAGGED_KINDS`).
        seed: seed of every draw.
        attribute_vocabulary: ``replace_attribute``'s attribute groups (or one flat list).
        spatial_opposites: ``swap_spatial``'s table.
        order_tries: draws of each random fallback (word order, other caption) before the next one.
    """

    def __init__(
        self,
        kinds: Sequence[HardNegativeKind],
        tagger: Tagger | None = None,
        seed: int = 0,
        attribute_vocabulary: AttributeVocabulary = DEFAULT_ATTRIBUTES,
        spatial_opposites: Mapping[str, str] = SPATIAL_OPPOSITES,
        order_tries: int = 8,
    ) -> None:
        self.kinds = check_kinds(kinds)
        if not self.kinds:
            raise ValueError("HardNegatives needs at least one kind")
        if self.needs_tags and tagger is None:
            needing = sorted(set(self.kinds) & TAGGED_KINDS)
            raise ValueError(f"hard-negative kinds {needing} need a part-of-speech tagger (tagger=None)")
        self.tagger, self.seed = tagger, int(seed)
        self.attribute_vocabulary, self.spatial_opposites = attribute_vocabulary, spatial_opposites
        self.order_tries = max(1, int(order_tries))

    @property
    def needs_tags(self) -> bool:
        """Whether any requested kind reads part-of-speech tags."""
        return bool(set(self.kinds) & TAGGED_KINDS)

    @property
    def columns(self) -> list[str]:
        """``negative_0 .. negative_{k-1}``."""
        return negative_columns(len(self.kinds))

    def fallback_order(self, j: int) -> list[str]:
        """The kinds tried for slot ``j``: ``kinds[j]``, the other requested kinds after it (cyclically),
        then the kinds not requested."""
        k = len(self.kinds)
        requested = [self.kinds[(j + d) % k] for d in range(k)]
        return list(dict.fromkeys([*requested, *HARD_NEGATIVE_KINDS]))

    def perturb(
        self, kind: str, caption: str, tagged: Sequence[tuple[str, str]] | None, rng: np.random.Generator
    ) -> str | None:
        """The negative of ``kind`` for ``caption`` (``None`` if it has nothing to perturb)."""
        if kind == "swap_spatial":
            return swap_spatial(caption, self.spatial_opposites)
        assert tagged is not None, "tag-based kinds need the caption's tags"
        if kind == "swap_attributes":
            return swap_attributes(tagged, rng)
        if kind == "swap_relation":
            return swap_relation(tagged, rng)
        if kind == "replace_attribute":
            return replace_attribute(tagged, rng, self.attribute_vocabulary)
        raise ValueError(
            f"unknown hard-negative kind {kind!r}. {did_you_mean(kind, HARD_NEGATIVE_KINDS, 'kinds')}"
        )

    def __call__(
        self, caption: str, index: int, other_caption: Callable[[np.random.Generator], str] | None = None
    ) -> HardNegativeDraw:
        """The negatives of ``caption``, the ``index``-th caption of its dataset.

        Args:
            caption: the caption.
            index: its index (draws are seeded by (``seed``, ``index``, slot)).
            other_caption: draws another image's caption from the generator given (last fallback).

        Raises:
            ValueError: no kind and no fallback can make a negative of ``caption`` different from it.
        """
        tagged = self.tagger.tag(caption) if self.needs_tags and self.tagger is not None else None
        taken = {_key(caption)}
        negatives: list[str] = []
        sources: list[str] = []
        for j, kind in enumerate(self.kinds):
            rng = np.random.default_rng([self.seed, SALT, int(index), j])
            found = self._slot(j, kind, caption, tagged, rng, taken, other_caption)
            if found is None:
                raise ValueError(
                    f"caption {index} {caption!r}: no hard negative of kind {kind!r} nor any fallback "
                    "(other kinds, word order, another caption) differs from it"
                )
            negatives.append(found[0])
            sources.append(found[1])
            taken.add(_key(found[0]))
        fallback = tuple(s != k for s, k in zip(sources, self.kinds, strict=True))
        return HardNegativeDraw(tuple(negatives), tuple(sources), fallback)

    def _slot(
        self,
        j: int,
        kind: str,
        caption: str,
        tagged: Sequence[tuple[str, str]] | None,
        rng: np.random.Generator,
        taken: set[str],
        other_caption: Callable[[np.random.Generator], str] | None,
    ) -> tuple[str, str] | None:
        """The first usable negative of the fallback chain and its source. A text that only repeats an
        earlier negative of the caption is kept as the last resort (returned if nothing new is found)."""
        caption_key = _key(caption)
        repeat: tuple[str, str] | None = None

        def new(text: str | None, source: str) -> bool:
            nonlocal repeat
            if text is None or not text.strip() or _key(text) == caption_key:
                return False
            if _key(text) in taken:
                repeat = repeat or (text, source)
                return False
            return True

        for other in self.fallback_order(j):
            if other in TAGGED_KINDS and tagged is None:
                continue
            text = self.perturb(other, caption, tagged, rng)
            if new(text, other):
                return text, other  # type: ignore[return-value]
        words = [w for w in word_tokenize(caption) if w[:1].isalnum()]
        for _ in range(self.order_tries if len(set(words)) > 1 else 0):
            text = shuffle_within_trigrams(words, rng)
            if new(text, "shuffle_within_trigrams"):
                return text, "shuffle_within_trigrams"
        for _ in range(self.order_tries if other_caption is not None else 0):
            text = other_caption(rng)  # type: ignore[misc]
            if new(text, "other_caption"):
                return text, "other_caption"
        return repeat

    def __repr__(self) -> str:
        return f"HardNegatives(kinds={list(self.kinds)}, tagger={self.tagger!r}, seed={self.seed})"


def _key(text: str) -> str:
    """Comparison key: the lower-cased words, so punctuation and spacing do not make a new caption."""
    return " ".join(w for w in word_tokenize(text.lower()) if w[:1].isalnum())
