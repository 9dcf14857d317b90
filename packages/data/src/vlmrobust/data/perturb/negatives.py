"""NegCLIP-style hard-negative captions: attribute swaps, relation swaps, attribute replacement, spatial swaps.

Each perturbation returns the negative caption, or ``None`` when the caption has nothing it can perturb
(no two attributed noun phrases, no relation between two noun phrases, no adjective, no spatial word) or
when every change it could make leaves the text unchanged; callers count the ``None`` s as skips or fall
back to another kind (:class:`~vlmrobust.data.perturb.hard_negatives.HardNegatives`). A random choice
(which pair, which adjective, which replacement) is drawn from the ``rng`` argument, so a negative is a
pure function of (caption, tags, seed).

The tag-based kinds read universal POS tags (:mod:`~vlmrobust.data.perturb.tagging`) and a shallow
noun-phrase chunking (:func:`noun_phrases`): a noun phrase is a run of ``DET``/``NUM``/``ADJ``/``NOUN``/
``PROPN`` tokens ending in its nouns ("a red fire hydrant"); relation-position nouns (``left``, ``right``,
``top``, ``side``, ``front`` … as in "to the left of", "on the side of") are part of a relation, never an
argument. After a change the indefinite article before a changed word is re-chosen (a/an by the first
letter), and a sentence-initial capital moves to the new first word. Output tokens are joined by spaces,
punctuation attached to the word before it.

* :func:`swap_attributes`: the adjectives of two noun phrases exchanged (ARO VG-Attribution, NegCLIP's
  adjective swaps): "a red car left of a blue dog" -> "a blue car left of a red dog".
* :func:`swap_relation`: the two noun phrases around a relation (a preposition or verb between them, no
  conjunction or punctuation) exchanged (ARO VG-Relation, NegCLIP's noun-phrase swaps):
  "a red car left of a blue dog" -> "a blue dog left of a red car".
* :func:`replace_attribute`: one adjective replaced by another of its group of a vocabulary (colour by
  colour …; :data:`DEFAULT_ATTRIBUTES`), as VL-Checklist's / hard_positives' REPLACE-att.
* :func:`swap_spatial`: no tagger: every spatial word or phrase replaced by its opposite (left/right,
  above/below, top/bottom, on top of/under, in front of/behind), the hard negatives of the
  erroneous-agreements paper ("on the left" -> "on the right").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from vlmrobust.data.perturb.order import Seed, as_generator
from vlmrobust.data.perturb.tagging import ADJ_TAGS, NOUN_TAGS

Tagged = Sequence[tuple[str, str]]

#: Relation-position nouns: part of a relation ("to the left of"), never a swapped argument.
SPATIAL_NOUNS: frozenset[str] = frozenset(
    {
        "left",
        "right",
        "top",
        "bottom",
        "centre",
        "center",
        "middle",
        "front",
        "back",
        "side",
        "edge",
        "corner",
    }
)
_NP_TAGS = frozenset({"DET", "NUM"}) | ADJ_TAGS | NOUN_TAGS
_RELATION_TAGS = frozenset({"ADP", "VERB", "AUX"})  # at least one between two arguments
_CLAUSE_BREAKS = frozenset({"CCONJ", "SCONJ", "PUNCT"})  # none between two arguments

#: ``replace_attribute``'s vocabulary: attribute groups (name -> adjectives), or one flat list of adjectives.
AttributeVocabulary = Mapping[str, Sequence[str]] | Sequence[str]

#: Attribute groups for :func:`replace_attribute`: an adjective of a group is replaced by another of it.
DEFAULT_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "colour": (
        "red",
        "orange",
        "yellow",
        "green",
        "blue",
        "purple",
        "pink",
        "brown",
        "black",
        "white",
        "grey",
    ),
    "size": ("small", "large", "tall", "short", "long", "wide", "narrow"),
    "material": ("wooden", "metal", "plastic", "glass", "stone", "brick", "leather", "paper"),
    "age": ("old", "new", "young"),
    "state": ("empty", "full", "open", "closed", "wet", "dry", "clean", "dirty"),
    "pattern": ("striped", "dotted", "checkered", "plain", "spotted"),
}
# Near-synonyms mapped onto one word of DEFAULT_ATTRIBUTES, so a replacement is never a mere synonym.
_SYNONYM_OF = {"gray": "grey", "big": "large", "huge": "large", "tiny": "small", "little": "small",
               "wood": "wooden", "metallic": "metal", "checked": "checkered"}  # fmt: skip

#: Spatial words and phrases and their opposites for :func:`swap_spatial` (longest match first).
SPATIAL_OPPOSITES: Mapping[str, str] = {
    "left": "right",
    "right": "left",
    "above": "below",
    "below": "above",
    "top": "bottom",
    "bottom": "top",
    "on top of": "under",
    "under": "on top of",
    "underneath": "on top of",
    "beneath": "above",
    "in front of": "behind",
    "behind": "in front of",
}


@dataclass(frozen=True)
class NounPhrase:
    """Token span ``[start, end)`` of a noun phrase, with the positions of its adjectives and its head."""

    start: int
    end: int
    adjectives: tuple[int, ...]

    @property
    def head(self) -> int:
        """Position of the last token (the head noun)."""
        return self.end - 1


def noun_phrases(tagged: Tagged) -> list[NounPhrase]:
    """Noun phrases of a tagged caption, left to right: runs of ``DET NUM ADJ NOUN PROPN`` tokens ending in
    a noun (a noun followed by a non-noun ends a phrase; words after the last noun of a run are dropped).
    A relation-position noun (:data:`SPATIAL_NOUNS`) closes the phrase before it and heads its own."""
    phrases: list[NounPhrase] = []
    start: int | None = None
    last_noun: int | None = None

    def close() -> None:
        nonlocal start, last_noun
        if start is not None and last_noun is not None:
            adjectives = tuple(i for i in range(start, last_noun + 1) if tagged[i][1] in ADJ_TAGS)
            phrases.append(NounPhrase(start, last_noun + 1, adjectives))
        start = last_noun = None

    for i, (word, tag) in enumerate(tagged):
        if tag not in _NP_TAGS:
            close()
            continue
        noun = tag in NOUN_TAGS
        spatial = noun and word.lower() in SPATIAL_NOUNS
        if last_noun is not None and (not noun or spatial or _is_spatial(tagged, last_noun)):
            close()  # a noun then a non-noun, or a spatial noun next to another noun: a new phrase
        if start is None:
            start = i
        if noun:
            last_noun = i
    close()
    return phrases


def _is_spatial(tagged: Tagged, i: int) -> bool:
    return tagged[i][0].lower() in SPATIAL_NOUNS


def arguments(tagged: Tagged) -> list[NounPhrase]:
    """The noun phrases that can be swapped: those not headed by a relation-position noun."""
    return [p for p in noun_phrases(tagged) if not _is_spatial(tagged, p.head)]


def _lower(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(w.lower() for w in words)


def swap_attributes(tagged: Tagged, rng: Seed) -> str | None:
    """The adjectives of two noun phrases exchanged: "a red car left of a blue dog" -> "a blue car left of a
    red dog". The pair is drawn uniformly among the pairs of noun phrases that both have adjectives, and
    different ones; ``None`` if there is no such pair."""
    words = [w for w, _ in tagged]
    phrases = [p for p in arguments(tagged) if p.adjectives]
    pairs = [
        (a, b)
        for i, a in enumerate(phrases)
        for b in phrases[i + 1 :]
        if _lower([words[k] for k in a.adjectives]) != _lower([words[k] for k in b.adjectives])
    ]
    if not pairs:
        return None
    a, b = pairs[int(as_generator(rng).integers(len(pairs)))]
    adj_a, adj_b = [words[k] for k in a.adjectives], [words[k] for k in b.adjectives]
    new = words[: a.start] + _with_adjectives(words, a, adj_b) + words[a.end : b.start]
    new += _with_adjectives(words, b, adj_a) + words[b.end :]
    return _finish(words, new)


def _with_adjectives(words: list[str], phrase: NounPhrase, adjectives: list[str]) -> list[str]:
    """The phrase's tokens with its adjectives replaced by ``adjectives`` (placed where its first one was)."""
    out: list[str] = []
    for k in range(phrase.start, phrase.end):
        if k == phrase.adjectives[0]:
            out += adjectives
        elif k not in phrase.adjectives:
            out.append(words[k])
    return out


def swap_relation(tagged: Tagged, rng: Seed) -> str | None:
    """The two noun phrases around a relation exchanged: "a red car left of a blue dog" -> "a blue dog left
    of a red car". Candidates are consecutive argument phrases with, between them, at least one ``ADP``,
    ``VERB`` or ``AUX`` token and no conjunction or punctuation (so "a dog and a cat" or "a man holding a cup
    and petting a dog" do not swap across the "and"); one is drawn uniformly. ``None`` without a
    candidate."""
    words = [w for w, _ in tagged]
    phrases = arguments(tagged)
    pairs = []
    for a, b in pairwise(phrases):
        between = {t for _, t in tagged[a.end : b.start]}
        relation = bool(between & _RELATION_TAGS) and not between & _CLAUSE_BREAKS
        if relation and _lower(words[a.start : a.end]) != _lower(words[b.start : b.end]):
            pairs.append((a, b))
    if not pairs:
        return None
    a, b = pairs[int(as_generator(rng).integers(len(pairs)))]
    new = words[: a.start] + words[b.start : b.end] + words[a.end : b.start]
    new += words[a.start : a.end] + words[b.end :]
    return _finish(words, new, proper=[w for w, t in tagged if t == "PROPN"])


def _groups(vocabulary: AttributeVocabulary) -> list[tuple[str, ...]]:
    if isinstance(vocabulary, Mapping):
        groups = [tuple(dict.fromkeys(w.lower() for w in g)) for g in vocabulary.values()]
    else:
        groups = [tuple(dict.fromkeys(w.lower() for w in vocabulary))]
    return [g for g in groups if g]


def replace_attribute(
    tagged: Tagged, rng: Seed, vocabulary: AttributeVocabulary = DEFAULT_ATTRIBUTES
) -> str | None:
    """One adjective replaced by another word of its group: "a red car" -> "a green car".

    The adjective is drawn uniformly among the caption's ``ADJ`` tokens that belong to a group (if none does:
    among all its adjectives), then the replacement uniformly among the other words of the adjective's group
    (an adjective in no group: among all the vocabulary's words); a near-synonym ("gray", "big", "tiny" …) counts as its group word, and a
    replacement is never the adjective itself or its synonym. Case of the first letter is kept.

    Args:
        tagged: ``(word, universal tag)`` pairs.
        rng: generator or seed.
        vocabulary: attribute groups (name -> words), or one flat list of adjectives.

    Returns:
        The caption with one adjective replaced; ``None`` if it has no adjective with a replacement.
    """
    groups = _groups(vocabulary)
    every = tuple(dict.fromkeys(w for g in groups for w in g))
    words = [w for w, _ in tagged]
    grouped: list[tuple[int, tuple[str, ...]]] = []
    ungrouped: list[tuple[int, tuple[str, ...]]] = []
    for i, (word, tag) in enumerate(tagged):
        if tag not in ADJ_TAGS:
            continue
        key = _SYNONYM_OF.get(word.lower(), word.lower())
        group = next((g for g in groups if key in g), None)
        alternatives = tuple(w for w in group or every if w != key and _SYNONYM_OF.get(w, w) != key)
        if alternatives:
            (ungrouped if group is None else grouped).append((i, alternatives))
    options = grouped or ungrouped
    if not options:
        return None
    rng = as_generator(rng)
    i, alternatives = options[int(rng.integers(len(options)))]
    word = alternatives[int(rng.integers(len(alternatives)))]
    new = list(words)
    new[i] = word[:1].upper() + word[1:] if words[i][:1].isupper() else word
    return _finish(words, new)


def _spatial_pattern(opposites: Mapping[str, str]) -> re.Pattern[str]:
    phrases = sorted(opposites, key=lambda p: (-len(p), p))  # longest first: "on top of" before "top"
    return re.compile(r"\b(" + "|".join(r"\s+".join(map(re.escape, p.split())) for p in phrases) + r")\b",
                      re.IGNORECASE)  # fmt: skip


_SPATIAL = _spatial_pattern(SPATIAL_OPPOSITES)


def swap_spatial(text: str, opposites: Mapping[str, str] = SPATIAL_OPPOSITES) -> str | None:
    """Every spatial word or phrase of ``text`` replaced by its opposite, in one pass (no tagger).

    "a red car left of a blue dog" -> "a red car right of a blue dog"; "a cat on top of a box" -> "a cat
    under a box". Matches are whole words, case-insensitive, longest phrase first; the first letter's case is
    kept. Word-level and tagger-free, so every sense is swapped ("he left" -> "he right"); pass another
    ``opposites`` table to add pairs (e.g. ``{"on": "under", ...}`` for What'sUp's on/under) or drop some.

    Returns:
        The swapped text; ``None`` if it has no spatial word.
    """
    pattern = _SPATIAL if opposites is SPATIAL_OPPOSITES else _spatial_pattern(opposites)
    table = {" ".join(k.lower().split()): v for k, v in opposites.items()}

    def flip(m: re.Match[str]) -> str:
        found = m.group(0)
        new = table[" ".join(found.lower().split())]
        return new[:1].upper() + new[1:] if found[:1].isupper() else new

    out, n = pattern.subn(flip, text)
    return out if n and out != text else None


# --- output ---------------------------------------------------------------------------------------------
_NO_SPACE_BEFORE = re.compile(r" ([.,!?;:%)\]}]|'s\b|'re\b|'ve\b|'ll\b|'d\b|'m\b|n't\b)")
_NO_SPACE_AFTER = re.compile(r"([(\[{$]) ")


def detokenize(words: Sequence[str]) -> str:
    """Tokens joined by spaces, punctuation and clitics attached to the word before (brackets after)."""
    text = " ".join(words)
    return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", text))


def _fix_articles(old: list[str], new: list[str]) -> list[str]:
    """Re-choose "a"/"an" before a word that changed (by its first letter being a vowel)."""
    out = list(new)
    for k in range(len(out) - 1):
        art = out[k].lower()
        if (
            art in ("a", "an")
            and (k + 1 >= len(old) or old[k + 1] != out[k + 1])
            and out[k + 1][:1].isalpha()
        ):
            want = "an" if out[k + 1][0].lower() in "aeiou" else "a"
            out[k] = want.capitalize() if out[k][0].isupper() else want
    return out


def _finish(old: list[str], new: list[str], proper: Sequence[str] = ()) -> str | None:
    """Articles fixed, sentence case carried over, detokenized; ``None`` if nothing changed.

    If the caption started with a capital and its first word changed, the new first word is capitalised
    and the old one (moved inside) lower-cased, unless it is a proper noun, "I" or an acronym.
    """
    new = _fix_articles(old, new)
    if old and new and old[0][:1].isupper() and new[0] != old[0]:
        first = old[0]
        if first not in proper and first != "I" and not (len(first) > 1 and first.isupper()):
            new = [first[:1].lower() + first[1:] if w == first else w for w in new]
        new[0] = new[0][:1].upper() + new[0][1:]
    text = detokenize(new)
    return None if text == detokenize(old) else text
