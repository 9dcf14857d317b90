"""Part-of-speech taggers behind the caption perturbations: a ``Tagger`` protocol and three implementations.

A tagger turns a caption into ``[(word, tag), ...]`` with **universal POS tags** (``NOUN``, ``PROPN``,
``ADJ``, ``ADP``, ``VERB``, ``AUX``, ``DET``, ``CCONJ``, ``PUNCT`` ...; see :data:`UPOS`). The perturbations
read nouns as ``NOUN``/``PROPN`` (Penn ``NN``/``NNS``/``NNP``/``NNPS``, the set ARO's ``TextShuffler`` uses)
and adjectives as ``ADJ`` (Penn ``JJ``/``JJR``/``JJS``; spaCy's English tag map sends exactly these, plus
the rare ``AFX``, to ``ADJ``).

* :class:`SpacyTagger`: spaCy (``en_core_web_sm`` by default, the model ARO uses), imported lazily on first
  use; a missing spaCy or model raises :class:`~vlmrobust.core.optional.MissingDependencyError` saying
  how to install it. :func:`spacy_tagger` builds one and loads it at once.
* :class:`PreTagged`: a dict ``caption -> tags`` (or a JSON file of one), for tests and for captions tagged
  offline (:meth:`PreTagged.build` + :meth:`PreTagged.save`).
* :class:`LexiconTagger`: word lists (closed-class English words built in), for synthetic captions whose
  vocabulary is known, e.g. the procedural world's (``world=True``).

The protocol method is ``tag(text)``, not ``__call__``: jsonargparse (LightningCLI) treats a callable
protocol as a ``Callable`` type, whereas a protocol with a named method accepts a ``class_path`` of any
class implementing it (``tagger: {class_path: vlmrobust.data.perturb.SpacyTagger}``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from vlmrobust.core.optional import MissingDependencyError, require

#: The 17 universal POS tags (Universal Dependencies v2), the tag set of every ``Tagger``.
UPOS: frozenset[str] = frozenset(
    {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
     "SCONJ", "SYM", "VERB", "X"}
)  # fmt: skip
#: Tags read as nouns (Penn NN, NNS, NNP, NNPS) and as adjectives (Penn JJ, JJR, JJS).
NOUN_TAGS: frozenset[str] = frozenset({"NOUN", "PROPN"})
ADJ_TAGS: frozenset[str] = frozenset({"ADJ"})

#: How to install spaCy and ARO's English model without the ``spacy`` extra.
SPACY_INSTALL = "pip install spacy && python -m spacy download en_core_web_sm"

_TOKEN = re.compile(r"\w+(?=n't\b)|n't\b|'\w+|\w+(?:[-.]\w+)*|[^\w\s]")


def word_tokenize(text: str) -> list[str]:
    """Words and punctuation of ``text``, close to ``nltk.word_tokenize`` (Treebank style) without NLTK.

    Clitics are split off as NLTK does (``"don't"`` -> ``do``, ``n't``; ``"man's"`` -> ``man``, ``'s``),
    hyphenated words and decimals stay whole, every other non-space symbol is a token of its own. NLTK's
    rewriting of double quotes to ``` `` ```/``''`` is not reproduced.

    >>> word_tokenize("A man's red car, parked.")
    ['A', 'man', "'s", 'red', 'car', ',', 'parked', '.']
    """
    return _TOKEN.findall(text)


def check_tags(tagged: Iterable[Sequence[str]], where: str) -> list[tuple[str, str]]:
    """``tagged`` as a list of ``(word, tag)`` pairs, or ``ValueError`` naming ``where`` for a malformed pair
    or a tag outside :data:`UPOS` (e.g. a Penn ``NN``)."""
    out: list[tuple[str, str]] = []
    for i, pair in enumerate(tagged):
        if isinstance(pair, str) or len(pair) != 2 or not all(isinstance(x, str) for x in pair):
            raise ValueError(f"{where}: token {i} is {pair!r}, not a (word, tag) pair of strings")
        word, tag = pair
        if tag not in UPOS:
            raise ValueError(
                f"{where}: token {i} ({word!r}) has tag {tag!r}, not a universal POS tag "
                f"({', '.join(sorted(UPOS))})"
            )
        out.append((word, tag))
    return out


@runtime_checkable
class Tagger(Protocol):
    """Anything with ``tag(text) -> [(word, universal POS tag), ...]``."""

    def tag(self, text: str) -> list[tuple[str, str]]:
        """The words of ``text`` in order, each with its universal POS tag."""
        ...


class SpacyTagger:
    """spaCy tagger: ``token.pos_`` (universal tags, from the tagger's Penn ``tag_`` via spaCy's tag map).

    The model is loaded on the first :meth:`tag` (or :meth:`load`), once per process: a copy pickled into
    DataLoader workers loads its own. Only ``tok2vec``, ``tagger`` and ``attribute_ruler`` run (parser,
    NER and lemmatizer are disabled); whitespace tokens (spaCy's ``SPACE``) are dropped.

    Args:
        model: installed spaCy pipeline name or path (ARO and NegCLIP use ``en_core_web_sm``).

    Raises:
        MissingDependencyError: on first use, when spaCy or the model is not installed.
    """

    def __init__(self, model: str = "en_core_web_sm") -> None:  # spaCy pipeline name or path
        self.model = model
        self._nlp: Any = None

    def load(self) -> SpacyTagger:
        """Import spaCy and load the model now (raises ``MissingDependencyError`` if either is missing)."""
        if self._nlp is None:
            spacy = _require_spacy()
            try:
                nlp = spacy.load(self.model)
            except OSError as err:  # spaCy's "Can't find model ..." (E050)
                raise MissingDependencyError(
                    f"spaCy model {self.model!r} is not installed: python -m spacy download {self.model} "
                    f"(spaCy said: {err})"
                ) from err
            unused = [p for p in ("parser", "ner", "lemmatizer") if p in nlp.pipe_names]
            nlp.select_pipes(disable=unused)
            self._nlp = nlp
        return self

    def tag(self, text: str) -> list[tuple[str, str]]:
        """``[(token.text, token.pos_), ...]`` of ``text``, whitespace tokens dropped."""
        self.load()
        return [(t.text, t.pos_) for t in self._nlp(text) if t.pos_ != "SPACE" and not t.is_space]

    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model, "_nlp": None}  # workers load their own pipeline

    def __repr__(self) -> str:
        return f"SpacyTagger(model={self.model!r})"


def _require_spacy() -> Any:
    try:
        return require("spacy", "spacy", "vlmrobust-data", "part-of-speech tagging of captions")
    except MissingDependencyError as err:
        raise MissingDependencyError(
            f"{err}; then the model: python -m spacy download en_core_web_sm. Without the extra: "
            f"{SPACY_INSTALL}. Or tag without spaCy: vlmrobust.data.perturb.PreTagged (captions tagged "
            "offline) or LexiconTagger (known vocabularies)"
        ) from err


def spacy_tagger(model: str = "en_core_web_sm") -> SpacyTagger:
    """A :class:`SpacyTagger` of ``model``, loaded now.

    Raises:
        MissingDependencyError: spaCy is not installed (the message gives
            ``pip install 'vlmrobust-data[spacy]'`` and ``pip install spacy && python -m spacy download
            en_core_web_sm``) or the model is not (``python -m spacy download <model>``).
    """
    return SpacyTagger(model).load()


class PreTagged:
    """Tags looked up by caption: a mapping ``caption -> [(word, tag), ...]`` given inline or as a JSON file.

    A caption is found verbatim, else with surrounding whitespace stripped and inner runs collapsed. The
    JSON file is one object ``{"<caption>": [["word", "TAG"], ...], ...}`` (what :meth:`save` writes). Tags
    are checked to be universal POS tags on construction.

    Args:
        tags: caption -> (word, tag) pairs.
        path: JSON file of more such entries (merged over ``tags``).
        on_missing: a caption without tags: ``raise`` (``KeyError``), or ``untagged``: its
            :func:`word_tokenize` words tagged ``X`` (the tag-based perturbations then find nothing in it
            and callers count a skip).
    """

    def __init__(
        self,
        tags: Mapping[str, Sequence[Sequence[str]]] | None = None,  # caption -> [[word, TAG], ...]
        path: str | None = None,  # JSON file {"caption": [["word", "TAG"], ...]} merged over tags
        on_missing: Literal["raise", "untagged"] = "raise",  # caption without tags: raise, or all-X tags
    ) -> None:
        if on_missing not in ("raise", "untagged"):
            raise ValueError(f"unknown on_missing {on_missing!r}; valid: 'raise', 'untagged'")
        entries: dict[str, Any] = dict(tags or {})
        self.path = None if path is None else str(path)
        if path is not None:
            try:
                loaded = json.loads(Path(path).read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}: not a JSON file of caption tags ({err})") from err
            if not isinstance(loaded, dict):
                raise ValueError(f"{path}: expected a JSON object caption -> [[word, tag], ...]")
            entries.update(loaded)
        where = self.path or "PreTagged"
        self.tags: dict[str, list[tuple[str, str]]] = {
            text: check_tags(pairs, f"{where}: caption {text!r}") for text, pairs in entries.items()
        }
        self._normalised = {_normalise(t): v for t, v in self.tags.items()}
        self.on_missing = on_missing

    def tag(self, text: str) -> list[tuple[str, str]]:
        """The stored tags of ``text`` (``KeyError`` naming it if absent and ``on_missing="raise"``)."""
        found = self.tags.get(text)
        if found is None:
            found = self._normalised.get(_normalise(text))
        if found is not None:
            return list(found)
        if self.on_missing == "untagged":
            return [(w, "X") for w in word_tokenize(text)]
        source = f"{self.path}" if self.path else "the PreTagged mapping"
        raise KeyError(
            f"no tags for caption {text!r} in {source} ({len(self.tags)} captions); tag it offline "
            "(PreTagged.build(captions, tagger).save(path)) or pass on_missing='untagged'"
        )

    def __len__(self) -> int:
        return len(self.tags)

    @classmethod
    def build(cls, captions: Iterable[str], tagger: Tagger) -> PreTagged:
        """Tag every distinct caption with ``tagger`` (e.g. a :class:`SpacyTagger`, once, offline)."""
        return cls({c: tagger.tag(c) for c in dict.fromkeys(captions)})

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the tags as the JSON file ``path`` reads back (``PreTagged(path=...)``)."""
        from vlmrobust.core.atomic import atomic_write_text

        out = Path(path)
        atomic_write_text(out, json.dumps({t: [list(p) for p in v] for t, v in self.tags.items()}))
        return out


def _normalise(text: str) -> str:
    return " ".join(text.split())


# --- lexicon tagger ------------------------------------------------------------------------------------
_CLOSED: dict[str, tuple[str, ...]] = {
    "DET": ("a", "an", "the", "this", "that", "these", "those", "some", "each", "every", "any", "another",
            "its", "their", "his", "her", "our", "my", "your", "no", "all", "both"),
    "ADP": ("of", "on", "in", "at", "to", "with", "from", "by", "near", "under", "over", "above", "below",
            "behind", "beside", "besides", "between", "among", "across", "along", "around", "into", "onto",
            "inside", "outside", "through", "towards", "toward", "beneath", "underneath", "next", "for",
            "against", "up", "down", "off", "upon", "within", "without", "like", "about"),
    "CCONJ": ("and", "or", "but", "nor"),
    "SCONJ": ("while", "as", "because", "if", "where", "whereas"),
    "AUX": ("is", "are", "was", "were", "be", "been", "being", "has", "have", "had", "can", "will"),
    "PRON": ("it", "they", "them", "he", "she", "him", "there", "which", "who", "that", "something",
             "other", "others", "one"),
    "PART": ("not", "'s"),
    "NUM": ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "several", "many"),
    "ADV": ("very", "partly", "upside", "sideways", "together", "here", "also", "too", "slightly"),
}  # fmt: skip
#: Relation-position nouns ("to the left of", "at the top"), tagged NOUN as spaCy tags them.
_SPATIAL_NOUNS = ("left", "right", "top", "bottom", "centre", "center", "middle", "front", "back", "side")
# Template words of the procedural world's captions (vlmrobust.data.world.captions / scenes) besides its
# classes, colours, backgrounds, sizes and patterns, which LexiconTagger(world=True) reads from the world.
_WORLD_NOUNS = ("photo", "image", "sketch", "drawing", "artwork", "background", "shape", "shapes", "scene",
                "pencil", "line")  # fmt: skip
_WORLD_ADJECTIVES = ("small", "large", "rotated", "tilted", "cluttered", "smaller", "hidden", "black",
                     "white", "striped", "dotted", "checkered", "shaded")  # fmt: skip
_WORLD_VERBS = ("coloured", "colored")


def world_vocabulary() -> dict[str, tuple[str, ...]]:
    """The procedural world's caption words by tag: its classes and template nouns (``NOUN``), colours,
    background words, sizes and patterns (``ADJ``) and the template verbs (``VERB``)."""
    from vlmrobust.data.world.classes import BACKGROUNDS, CLASS_NAMES, COLOURS, RENDITION_COLOURS

    colours = [*COLOURS, *RENDITION_COLOURS, *(w for name in BACKGROUNDS for w in name.split())]
    return {
        "NOUN": (*CLASS_NAMES, *_WORLD_NOUNS),
        "ADJ": tuple(dict.fromkeys([*colours, *_WORLD_ADJECTIVES])),
        "VERB": _WORLD_VERBS,
    }


class LexiconTagger:
    """Rule-based tagger from word lists: for captions of a known vocabulary (synthetic or templated data).

    Tokens come from :func:`word_tokenize`; each is looked up lower-cased in, by priority: ``nouns``,
    ``adjectives``, ``verbs``, ``prepositions`` (then the world's words when ``world=True``), the built-in
    closed-class English words (determiners, prepositions, conjunctions, auxiliaries, pronouns, numbers),
    and the relation-position nouns (``left``, ``right``, ``top``, ``bottom``, ``front`` … as ``NOUN``).
    Digits are ``NUM``, punctuation ``PUNCT``; any other word gets ``unknown``.

    Args:
        nouns: words tagged ``NOUN``.
        adjectives: words tagged ``ADJ``.
        prepositions: extra words tagged ``ADP``.
        verbs: words tagged ``VERB``.
        world: add the procedural world's vocabulary (:func:`world_vocabulary`).
        unknown: tag of words in no list.
    """

    def __init__(
        self,
        nouns: Sequence[str] = (),  # words tagged NOUN
        adjectives: Sequence[str] = (),  # words tagged ADJ
        prepositions: Sequence[str] = (),  # extra words tagged ADP (common ones are built in)
        verbs: Sequence[str] = (),  # words tagged VERB
        world: bool = False,  # add the procedural world's classes, colours and template words
        unknown: str = "X",  # tag of a word in no list
    ) -> None:
        if unknown not in UPOS:
            raise ValueError(f"unknown={unknown!r} is not a universal POS tag ({', '.join(sorted(UPOS))})")
        self.unknown = unknown
        lexicon: dict[str, str] = {w: "NOUN" for w in _SPATIAL_NOUNS}
        for tag, words in reversed(_CLOSED.items()):
            lexicon.update((w, tag) for w in words)
        if world:
            for tag, words in reversed(world_vocabulary().items()):
                lexicon.update((w.lower(), tag) for w in words)
        for tag, words in (("ADP", prepositions), ("VERB", verbs), ("ADJ", adjectives), ("NOUN", nouns)):
            lexicon.update((w.lower(), tag) for w in words)  # later lists win: nouns first in priority
        self.lexicon = lexicon

    def tag(self, text: str) -> list[tuple[str, str]]:
        """``[(word, tag), ...]`` of ``text`` by lexicon lookup."""
        out: list[tuple[str, str]] = []
        for word in word_tokenize(text):
            tag = self.lexicon.get(word.lower())
            if tag is None:
                tag = "NUM" if word[0].isdigit() else "PUNCT" if not word[0].isalnum() else self.unknown
            out.append((word, tag))
        return out

    def __repr__(self) -> str:
        return f"LexiconTagger({len(self.lexicon)} words)"
