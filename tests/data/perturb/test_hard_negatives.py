"""HardNegatives: one negative per kind, fallbacks in their documented order, determinism by (seed, index)."""

from __future__ import annotations

import pytest

from vlmrobust.data.perturb import HARD_NEGATIVE_KINDS, HardNegatives, PreTagged, negative_columns

CAPTIONS = {
    "a red car left of a blue dog": "a/DET red/ADJ car/NOUN left/VERB of/ADP a/DET blue/ADJ dog/NOUN",
    "a dog": "a/DET dog/NOUN",
    "a red car": "a/DET red/ADJ car/NOUN",
    "a dog on the left": "a/DET dog/NOUN on/ADP the/DET left/NOUN",
    "dog": "dog/NOUN",
    "a big dog near a small cat near a red bus": "a/DET big/ADJ dog/NOUN near/ADP a/DET small/ADJ cat/NOUN "
    "near/ADP a/DET red/ADJ bus/NOUN",
}
TAGGER = PreTagged({c: [t.rsplit("/", 1) for t in spec.split()] for c, spec in CAPTIONS.items()})
KINDS = ["swap_attributes", "swap_relation"]


def _other(rng):
    return "a cat"


def test_one_negative_per_kind_without_fallback():
    draw = HardNegatives(KINDS, TAGGER)("a red car left of a blue dog", 0, _other)
    assert draw.negatives == ("a blue car left of a red dog", "a blue dog left of a red car")
    assert draw.sources == ("swap_attributes", "swap_relation") and draw.fallback == (False, False)
    draw = HardNegatives(["swap_spatial", "swap_attributes"], TAGGER)("a red car left of a blue dog", 0)
    assert draw.negatives == ("a red car right of a blue dog", "a blue car left of a red dog")


def test_fallback_to_another_kind_then_word_order_then_another_caption():
    maker = HardNegatives(KINDS, TAGGER)
    # no second noun phrase, but a spatial word: the kinds not requested come after the requested ones
    draw = maker("a dog on the left", 1, _other)
    assert draw.negatives[0] == "a dog on the right" and draw.sources[0] == "swap_spatial"
    assert draw.fallback == (True, True)
    # nothing but a word-order shuffle: "a dog" has one other order; the second slot takes another caption
    draw = maker("a dog", 2, _other)
    assert draw.negatives == ("dog a", "a cat")
    assert draw.sources == ("shuffle_within_trigrams", "other_caption") and draw.fallback == (True, True)
    # one attribute: replace_attribute (not requested) in both slots, two different replacements
    draw = maker("a red car", 3, _other)
    assert draw.sources == ("replace_attribute", "replace_attribute")
    assert len(set(draw.negatives)) == 2 and all(
        n.endswith(" car") and "red" not in n for n in draw.negatives
    )


def test_a_negative_never_repeats_the_caption_or_an_earlier_negative():
    maker = HardNegatives(["swap_relation", "swap_relation", "swap_relation"], TAGGER)
    draw = maker("a red car left of a blue dog", 0, _other)
    assert draw.negatives[0] == "a blue dog left of a red car"
    assert len(set(draw.negatives)) == 3 and draw.fallback == (False, True, True)


def test_unperturbable_caption_raises_naming_it():
    with pytest.raises(ValueError, match=r"caption 7 'dog': no hard negative of kind 'swap_attributes'"):
        HardNegatives(KINDS, TAGGER)("dog", 7)
    # another caption is the last rung; when it only repeats an earlier negative, the repeat is used
    draw = HardNegatives(KINDS, TAGGER)("dog", 7, _other)
    assert draw.negatives == ("a cat", "a cat") and draw.sources == ("other_caption", "other_caption")


def test_deterministic_by_seed_and_index():
    caption = "a big dog near a small cat near a red bus"
    maker = HardNegatives(KINDS, TAGGER, seed=3)
    assert maker(caption, 5) == HardNegatives(KINDS, TAGGER, seed=3)(caption, 5)
    by_index = {maker(caption, i).negatives for i in range(20)}
    by_seed = {HardNegatives(KINDS, TAGGER, seed=s)(caption, 0).negatives for s in range(20)}
    assert len(by_index) > 1 and len(by_seed) > 1


def test_kinds_are_checked_and_tagging_kinds_need_a_tagger():
    assert HARD_NEGATIVE_KINDS == ("swap_attributes", "swap_relation", "replace_attribute", "swap_spatial")
    with pytest.raises(
        ValueError, match=r"unknown hard-negative kind 'swap_attribute'\. Did you mean 'swap_attributes'"
    ):
        HardNegatives(["swap_attribute"], TAGGER)
    with pytest.raises(ValueError, match=r"kinds \['swap_relation'\] need a part-of-speech tagger"):
        HardNegatives(["swap_spatial", "swap_relation"])
    spatial = HardNegatives(["swap_spatial"])  # no tagger needed, none used in fallbacks
    assert spatial("a dog on the left", 0).negatives == ("a dog on the right",)
    assert spatial("a dog", 0).sources == ("shuffle_within_trigrams",)
    assert (
        negative_columns(3)
        == ["negative_0", "negative_1", "negative_2"]
        == HardNegatives(["swap_spatial"] * 3).columns
    )
