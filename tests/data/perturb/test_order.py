"""ARO's word-order perturbations: hand-checked outputs under a fixed permutation, invariants, determinism."""

from __future__ import annotations

from collections import Counter
from itertools import permutations

import numpy as np
import pytest

from vlmrobust.data.perturb import (
    ORDER_PERTURBATIONS,
    PreTagged,
    order_options,
    pre_caption,
    shuffle_all_words,
    shuffle_allbut_nouns_and_adj,
    shuffle_nouns_and_adj,
    shuffle_trigrams,
    shuffle_within_trigrams,
    trigrams,
)

# "a man with a red helmet on a small moped on a dirt road" (COCO val2014 391895), tagged as spaCy would
MOPED = [("a", "DET"), ("man", "NOUN"), ("with", "ADP"), ("a", "DET"), ("red", "ADJ"), ("helmet", "NOUN"),
         ("on", "ADP"), ("a", "DET"), ("small", "ADJ"), ("moped", "NOUN"), ("on", "ADP"), ("a", "DET"),
         ("dirt", "NOUN"), ("road", "NOUN")]  # fmt: skip
MOPED_TEXT = "a man with a red helmet on a small moped on a dirt road"
NOUNS = {1, 5, 9, 12, 13}
ADJECTIVES = {4, 8}


class Reverse(np.random.Generator):
    """A generator whose ``permutation`` reverses: makes every shuffle's output computable by hand."""

    def __init__(self) -> None:
        super().__init__(np.random.PCG64(0))

    def permutation(self, x):  # type: ignore[override]
        return np.arange(x)[::-1] if isinstance(x, int) else np.asarray(x)[::-1]


def test_the_four_aro_perturbations_in_option_order():
    assert ORDER_PERTURBATIONS == (
        "shuffle_nouns_and_adj",
        "shuffle_allbut_nouns_and_adj",
        "shuffle_within_trigrams",
        "shuffle_trigrams",
    )


def test_shuffles_by_hand_under_a_reversing_permutation():
    # nouns man helmet moped dirt road -> road dirt moped helmet man; adjectives red small -> small red
    assert (
        shuffle_nouns_and_adj(MOPED, Reverse()) == "a road with a small dirt on a red moped on a helmet man"
    )
    # the 9 others (a with a on a on a + ...) reversed among their own positions
    others = [w for i, (w, _) in enumerate(MOPED) if i not in NOUNS | ADJECTIVES]
    assert others == ["a", "with", "a", "on", "a", "on", "a"]
    assert shuffle_allbut_nouns_and_adj(MOPED, Reverse()) == (
        "a man on a red helmet on a small moped with a dirt road"
    )
    words = MOPED_TEXT.split()
    assert trigrams(words) == [["a", "man", "with"], ["a", "red", "helmet"], ["on", "a", "small"],
                               ["moped", "on", "a"], ["dirt", "road"]]  # fmt: skip
    assert (
        shuffle_within_trigrams(words, Reverse()) == "with man a helmet red a small a on a on moped road dirt"
    )
    assert shuffle_trigrams(words, Reverse()) == "dirt road moped on a on a small a red helmet a man with"
    assert shuffle_all_words("a red car", Reverse()) == "car red a"


def test_noun_adjective_shuffle_keeps_every_other_token_and_the_word_multisets():
    for seed in range(20):
        out = shuffle_nouns_and_adj(MOPED, seed).split()
        assert Counter(out) == Counter(MOPED_TEXT.split())
        for i, (word, tag) in enumerate(MOPED):
            if i in NOUNS:
                assert out[i] in {"man", "helmet", "moped", "dirt", "road"}
            elif i in ADJECTIVES:
                assert out[i] in {"red", "small"}
            else:
                assert out[i] == word, (seed, i, tag)


def test_allbut_shuffle_keeps_nouns_and_adjectives_in_place():
    for seed in range(20):
        out = shuffle_allbut_nouns_and_adj(MOPED, seed).split()
        assert Counter(out) == Counter(MOPED_TEXT.split())
        assert all(out[i] == MOPED[i][0] for i in NOUNS | ADJECTIVES)


def test_trigram_shuffles_keep_chunks():
    words = MOPED_TEXT.split()
    chunks = trigrams(words)
    joined = {" ".join(w for c in order for w in c) for order in permutations(chunks)}
    for seed in range(20):
        within = shuffle_within_trigrams(words, seed).split()
        assert [Counter(c) for c in trigrams(within)] == [Counter(c) for c in chunks]  # each chunk in place
        across = shuffle_trigrams(MOPED, seed)  # tagged input: tags ignored
        assert across in joined  # the chunks intact, in some order


@pytest.mark.parametrize(
    "shuffle",
    [shuffle_nouns_and_adj, shuffle_allbut_nouns_and_adj, shuffle_within_trigrams, shuffle_trigrams],
)
def test_same_seed_same_output_different_seeds_differ(shuffle):
    assert shuffle(MOPED, 3) == shuffle(MOPED, 3) == shuffle(MOPED, np.random.default_rng(3))
    assert shuffle(MOPED, [7, 1]) == shuffle(MOPED, np.random.default_rng([7, 1]))
    assert shuffle(MOPED, 0) != shuffle(MOPED, 1)
    assert len({shuffle(MOPED, s) for s in range(10)}) > 3


def test_shuffles_may_return_the_input_as_the_official_code_does():
    one_noun = [("a", "DET"), ("dog", "NOUN")]
    assert shuffle_nouns_and_adj(one_noun, 0) == "a dog"
    assert shuffle_within_trigrams(["dog"], 0) == "dog"


def test_pre_caption_is_aros():
    assert pre_caption('A man, riding a horse!  (on the "beach").') == "a man, riding a horse on the beach"
    assert pre_caption("one two three four", max_words=2) == "one two"
    assert pre_caption("  Trailing space. \n") == "trailing space"


def test_order_options_original_first_then_the_four_shuffles():
    tagger = PreTagged({MOPED_TEXT: MOPED})
    rng = np.random.default_rng(0)
    options = order_options("A man with a red helmet on a small moped on a dirt road. ", _Upper(tagger), rng)
    assert len(options) == 5
    assert options[0] == MOPED_TEXT
    for option in options[1:]:
        assert Counter(option.split()) == Counter(MOPED_TEXT.split())  # pre_caption drops the "."
    again = order_options("A man with a red helmet on a small moped on a dirt road. ", _Upper(tagger), 0)
    assert again == options  # a seed is the generator it seeds


class _Upper:
    """Tags a capitalised, punctuated caption through a lower-case PreTagged (as spaCy would tag it)."""

    def __init__(self, inner: PreTagged) -> None:
        self.inner = inner

    def tag(self, text: str) -> list[tuple[str, str]]:
        tags = self.inner.tag(pre_caption(text))
        return [(w.capitalize() if i == 0 else w, t) for i, (w, t) in enumerate(tags)] + [(".", "PUNCT")]
