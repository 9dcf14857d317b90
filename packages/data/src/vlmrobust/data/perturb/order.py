"""ARO's word-order perturbations (COCO-Order / Flickr30k-Order), deterministic by a numpy ``Generator``.

Verified against ``dataset_zoo/perturbations.py`` (``TextShuffler``) and ``dataset_zoo/aro_datasets.py``
(``COCO_Order``, ``Flickr30k_Order``) of mertyg/vision-language-models-are-bows: the four perturbations of
an Order test case, in option order, are

1. :func:`shuffle_nouns_and_adj`: the nouns (Penn ``NN*``) permuted among themselves and the adjectives
   (``JJ*``) among themselves, every other token in place;
2. :func:`shuffle_allbut_nouns_and_adj`: every token that is neither noun nor adjective permuted among
   themselves, nouns and adjectives in place;
3. :func:`shuffle_within_trigrams`: the tokens cut into consecutive chunks of 3 (the last may be shorter),
   each chunk shuffled in place;
4. :func:`shuffle_trigrams`: the same chunks, their order shuffled, each kept intact;

all joined with single spaces (``" ".join``). 1-2 work on spaCy tokens (``en_core_web_sm``), 3-4 on
``nltk.word_tokenize`` tokens; an option is ``pre_caption(f(caption))`` (:func:`pre_caption`, 30 words),
the original caption first (:func:`order_options`). ``shuffle_all_words`` exists there but is not an ARO
option. Differences, by design: randomness comes from the ``rng`` argument (the official code draws from
numpy's and Python's global generators after ``seed_all(1)``), so the option strings are the official
distribution, not its exact draws; nouns are universal ``NOUN``/``PROPN`` and adjectives ``ADJ`` (see
:mod:`~vlmrobust.data.perturb.tagging`); NLTK is replaced by :func:`~vlmrobust.data.perturb.tagging.word_tokenize`.
As in the official code, a shuffle may return its input unchanged (e.g. a caption with one noun).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from vlmrobust.data.perturb.tagging import ADJ_TAGS, NOUN_TAGS, Tagger, word_tokenize

#: ARO's four Order perturbations, in the order of the options after the original caption.
ORDER_PERTURBATIONS: tuple[str, ...] = (
    "shuffle_nouns_and_adj",
    "shuffle_allbut_nouns_and_adj",
    "shuffle_within_trigrams",
    "shuffle_trigrams",
)

Tagged = Sequence[tuple[str, str]]
Seed = np.random.Generator | int | Sequence[int]


def as_generator(rng: Seed) -> np.random.Generator:
    """``rng`` itself if it is a ``numpy.random.Generator``, else ``numpy.random.default_rng(rng)``."""
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _words(tokens: Sequence[str] | Tagged) -> list[str]:
    return [t if isinstance(t, str) else t[0] for t in tokens]


def _permute_at(words: list[str], positions: list[int], rng: np.random.Generator) -> None:
    if positions:
        order = rng.permutation(len(positions))
        values = [words[p] for p in positions]
        for p, k in zip(positions, order, strict=True):
            words[p] = values[k]


def shuffle_nouns_and_adj(tagged: Tagged, rng: Seed) -> str:
    """Nouns permuted among the noun positions, adjectives among the adjective positions (ARO option 1).

    Args:
        tagged: ``(word, universal tag)`` pairs of the caption (a ``Tagger``'s output).
        rng: generator or seed.
    """
    rng = as_generator(rng)
    words = _words(tagged)
    _permute_at(words, [i for i, (_, t) in enumerate(tagged) if t in NOUN_TAGS], rng)
    _permute_at(words, [i for i, (_, t) in enumerate(tagged) if t in ADJ_TAGS], rng)
    return " ".join(words)


def shuffle_allbut_nouns_and_adj(tagged: Tagged, rng: Seed) -> str:
    """Every token that is neither a noun nor an adjective permuted among those positions (ARO option 2)."""
    rng = as_generator(rng)
    words = _words(tagged)
    keep = NOUN_TAGS | ADJ_TAGS
    _permute_at(words, [i for i, (_, t) in enumerate(tagged) if t not in keep], rng)
    return " ".join(words)


def trigrams(tokens: Sequence[str]) -> list[list[str]]:
    """Consecutive chunks of 3 tokens, the last one shorter if the length is not a multiple of 3."""
    return [list(tokens[i : i + 3]) for i in range(0, len(tokens), 3)]


def shuffle_within_trigrams(tokens: Sequence[str] | Tagged, rng: Seed) -> str:
    """Each trigram's tokens shuffled, the trigrams in place (ARO option 3).

    Args:
        tokens: the caption's tokens (ARO: ``nltk.word_tokenize``; here e.g. ``word_tokenize``), or
            ``(word, tag)`` pairs (tags ignored).
        rng: generator or seed.
    """
    rng = as_generator(rng)
    chunks = trigrams(_words(tokens))
    return " ".join(" ".join(c[k] for k in rng.permutation(len(c))) for c in chunks)


def shuffle_trigrams(tokens: Sequence[str] | Tagged, rng: Seed) -> str:
    """The trigrams' order shuffled, each trigram intact (ARO option 4)."""
    rng = as_generator(rng)
    chunks = trigrams(_words(tokens))
    return " ".join(" ".join(chunks[k]) for k in rng.permutation(len(chunks)))


def shuffle_all_words(text: str, rng: Seed) -> str:
    """All words (``text.split(" ")``) permuted: ARO's ``shuffle_all_words``, not one of the Order options."""
    rng = as_generator(rng)
    words = text.split(" ")
    return " ".join(words[k] for k in rng.permutation(len(words)))


def pre_caption(caption: str, max_words: int = 30) -> str:
    """ARO/BLIP caption normalisation: lower-case, ``.!"()*#:;~`` to spaces, runs of 2+ whitespace
    characters to one space, strip, keep the first ``max_words`` words (ARO's Order sets use 30)."""
    text = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    text = re.sub(r"\s{2,}", " ", text).rstrip("\n").strip(" ")
    words = text.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else text


def order_options(caption: str, tagger: Tagger, rng: Seed, max_words: int = 30) -> list[str]:
    """An ARO COCO-/Flickr30k-Order test case: ``[pre_caption(c), pre_caption(f1(c)), ..., pre_caption(f4(c))]``
    with f1..f4 the :data:`ORDER_PERTURBATIONS` in order, the original (correct) option first.

    Args:
        caption: the raw caption.
        tagger: tags for options 1-2 (ARO: spaCy ``en_core_web_sm``).
        rng: generator or seed; the four draws come from it in option order.
        max_words: ``pre_caption``'s truncation.
    """
    rng = as_generator(rng)
    tagged = tagger.tag(caption)
    tokens = word_tokenize(caption)
    perturbed = [
        shuffle_nouns_and_adj(tagged, rng),
        shuffle_allbut_nouns_and_adj(tagged, rng),
        shuffle_within_trigrams(tokens, rng),
        shuffle_trigrams(tokens, rng),
    ]
    return [pre_caption(caption, max_words)] + [pre_caption(p, max_words) for p in perturbed]
