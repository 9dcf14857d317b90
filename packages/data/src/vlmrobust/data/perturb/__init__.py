"""Deterministic caption perturbations (torch-free): ARO's word-order shuffles, NegCLIP-style hard negatives,
and the part-of-speech taggers they read.

* :mod:`~vlmrobust.data.perturb.order`: the four COCO-/Flickr30k-Order shuffles and ``order_options``;
* :mod:`~vlmrobust.data.perturb.negatives`: ``swap_attributes``, ``swap_relation``, ``replace_attribute``
  and ``swap_spatial`` (each ``None`` when the caption has nothing to perturb);
* :mod:`~vlmrobust.data.perturb.hard_negatives`: ``HardNegatives``, k negatives per caption with counted
  fallbacks (the ``negative_j`` columns of ``CaptionsDataModule(hard_negatives=[...])``);
* :mod:`~vlmrobust.data.perturb.tagging`: the ``Tagger`` protocol, ``SpacyTagger`` / ``spacy_tagger``,
  ``PreTagged`` and ``LexiconTagger``.

Every random choice comes from a ``numpy.random.Generator`` (or a seed) passed in.
"""

from vlmrobust.data.perturb.hard_negatives import (
    HARD_NEGATIVE_KINDS,
    TAGGED_KINDS,
    HardNegativeDraw,
    HardNegativeKind,
    HardNegatives,
    negative_columns,
)
from vlmrobust.data.perturb.negatives import (
    DEFAULT_ATTRIBUTES,
    SPATIAL_OPPOSITES,
    NounPhrase,
    noun_phrases,
    replace_attribute,
    swap_attributes,
    swap_relation,
    swap_spatial,
)
from vlmrobust.data.perturb.order import (
    ORDER_PERTURBATIONS,
    order_options,
    pre_caption,
    shuffle_all_words,
    shuffle_allbut_nouns_and_adj,
    shuffle_nouns_and_adj,
    shuffle_trigrams,
    shuffle_within_trigrams,
    trigrams,
)
from vlmrobust.data.perturb.tagging import (
    UPOS,
    LexiconTagger,
    PreTagged,
    SpacyTagger,
    Tagger,
    spacy_tagger,
    word_tokenize,
)

__all__ = [
    "DEFAULT_ATTRIBUTES",
    "HARD_NEGATIVE_KINDS",
    "ORDER_PERTURBATIONS",
    "SPATIAL_OPPOSITES",
    "TAGGED_KINDS",
    "UPOS",
    "HardNegativeDraw",
    "HardNegativeKind",
    "HardNegatives",
    "LexiconTagger",
    "NounPhrase",
    "PreTagged",
    "SpacyTagger",
    "Tagger",
    "negative_columns",
    "noun_phrases",
    "order_options",
    "pre_caption",
    "replace_attribute",
    "shuffle_all_words",
    "shuffle_allbut_nouns_and_adj",
    "shuffle_nouns_and_adj",
    "shuffle_trigrams",
    "shuffle_within_trigrams",
    "spacy_tagger",
    "swap_attributes",
    "swap_relation",
    "swap_spatial",
    "trigrams",
    "word_tokenize",
]
