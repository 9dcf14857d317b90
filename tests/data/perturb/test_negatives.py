"""NegCLIP-style hard negatives on fixed pre-tagged captions, outputs written by hand."""

from __future__ import annotations

import pytest

from vlmrobust.data.perturb import (
    DEFAULT_ATTRIBUTES,
    LexiconTagger,
    NounPhrase,
    PreTagged,
    noun_phrases,
    replace_attribute,
    swap_attributes,
    swap_relation,
    swap_spatial,
)


def tags(spec: str) -> list[tuple[str, str]]:
    """``"a/DET red/ADJ car/NOUN"`` -> ``[("a", "DET"), ("red", "ADJ"), ("car", "NOUN")]``."""
    return [tuple(tok.rsplit("/", 1)) for tok in spec.split()]  # type: ignore[misc]


CAR = tags(
    "a/DET red/ADJ car/NOUN left/VERB of/ADP a/DET blue/ADJ dog/NOUN"
)  # "a red car left of a blue dog"
TAGGER = PreTagged({"a red car left of a blue dog": CAR})


def test_the_issue_examples():
    tagged = TAGGER.tag("a red car left of a blue dog")
    assert swap_attributes(tagged, 0) == "a blue car left of a red dog"
    assert swap_relation(tagged, 0) == "a blue dog left of a red car"
    assert swap_spatial("a red car left of a blue dog") == "a red car right of a blue dog"
    assert replace_attribute(tags("a/DET red/ADJ car/NOUN"), 0, ["red", "green"]) == "a green car"


def test_noun_phrases_and_spatial_nouns():
    assert noun_phrases(CAR) == [NounPhrase(0, 3, (1,)), NounPhrase(5, 8, (6,))]
    hydrant = tags("a/DET red/ADJ fire/NOUN hydrant/NOUN on/ADP the/DET left/NOUN")
    assert noun_phrases(hydrant) == [NounPhrase(0, 4, (1,)), NounPhrase(5, 7, ())]  # "the left" heads its own
    assert noun_phrases(tags("the/DET car/NOUN is/AUX red/ADJ")) == [
        NounPhrase(0, 2, ())
    ]  # no noun after red


def test_nothing_to_perturb_is_none():
    assert swap_attributes(tags("a/DET red/ADJ car/NOUN"), 0) is None  # one noun phrase
    assert (
        swap_attributes(tags("a/DET red/ADJ car/NOUN near/ADP a/DET dog/NOUN"), 0) is None
    )  # one attributed
    assert swap_attributes(tags("a/DET red/ADJ car/NOUN near/ADP a/DET red/ADJ dog/NOUN"), 0) is None  # same
    assert swap_relation(tags("a/DET dog/NOUN and/CCONJ a/DET cat/NOUN"), 0) is None  # a conjunction
    assert swap_relation(tags("a/DET dog/NOUN near/ADP a/DET dog/NOUN"), 0) is None  # same phrase
    assert swap_relation(tags("a/DET dog/NOUN"), 0) is None
    assert replace_attribute(tags("a/DET dog/NOUN"), 0) is None  # no adjective
    assert replace_attribute(tags("a/DET red/ADJ dog/NOUN"), 0, ["red"]) is None  # nothing to replace it with
    assert swap_spatial("two dogs on a sofa") is None
    assert swap_spatial("a bright laptop") is None  # whole words only


def test_articles_and_sentence_case_follow_the_change():
    orange = tags("An/DET orange/ADJ cat/NOUN on/ADP a/DET blue/ADJ mat/NOUN ./PUNCT")
    assert swap_attributes(orange, 0) == "A blue cat on an orange mat."
    assert swap_relation(orange, 0) == "A blue mat on an orange cat."
    car = tags("A/DET red/ADJ car/NOUN left/VERB of/ADP a/DET blue/ADJ dog/NOUN ./PUNCT")
    assert swap_relation(car, 0) == "A blue dog left of a red car."
    name = tags("Bob/PROPN is/AUX next/ADP to/ADP a/DET tree/NOUN")
    assert swap_relation(name, 0) == "A tree is next to Bob"


def test_relation_swap_skips_spatial_nouns_and_clause_breaks():
    lexicon = LexiconTagger(world=True)
    tagged = lexicon.tag("a red circle to the left of a blue square")
    assert swap_relation(tagged, 0) == "a blue square to the left of a red circle"
    assert swap_attributes(tagged, 0) == "a blue circle to the left of a red square"
    man = tags("a/DET man/NOUN holding/VERB a/DET cup/NOUN and/CCONJ petting/VERB a/DET dog/NOUN")
    for seed in range(5):  # only (man, cup) is a relation: the "and" ends it
        assert swap_relation(man, seed) == "a cup holding a man and petting a dog"


def test_multiple_candidates_drawn_by_seed():
    three = tags("a/DET red/ADJ car/NOUN near/ADP a/DET blue/ADJ dog/NOUN near/ADP a/DET green/ADJ cat/NOUN")
    outputs = {swap_attributes(three, seed) for seed in range(30)}
    assert outputs == {
        "a blue car near a red dog near a green cat",
        "a green car near a blue dog near a red cat",
        "a red car near a green dog near a blue cat",
    }
    assert swap_attributes(three, 4) == swap_attributes(three, 4)
    assert {swap_relation(three, seed) for seed in range(30)} == {
        "a blue dog near a red car near a green cat",
        "a red car near a green cat near a blue dog",
    }


def test_adjective_runs_of_different_lengths_swap_whole():
    tagged = tags("a/DET big/ADJ red/ADJ car/NOUN by/ADP an/DET old/ADJ dog/NOUN")
    assert swap_attributes(tagged, 0) == "an old car by a big red dog"


def test_replace_attribute_stays_in_the_group_and_avoids_synonyms():
    chair = tags("a/DET red/ADJ wooden/ADJ chair/NOUN")
    seen = set()
    for seed in range(60):
        out = replace_attribute(chair, seed)
        words = out.split()
        assert len(words) == 4 and words[3] == "chair"
        assert words[0] == ("an" if words[1][0] in "aeiou" else "a")  # "an orange wooden chair"
        if words[2] == "wooden":
            assert words[1] in DEFAULT_ATTRIBUTES["colour"] and words[1] != "red"
        else:
            assert words[1] == "red" and words[2] in DEFAULT_ATTRIBUTES["material"] and words[2] != "wooden"
        seen.add(out)
    assert len(seen) > 5
    gray = tags("a/DET Gray/ADJ cat/NOUN")
    outs = {replace_attribute(gray, seed) for seed in range(60)}
    assert "a Grey cat" not in outs and all(o.split()[1][0].isupper() for o in outs)
    assert replace_attribute(tags("a/DET shiny/ADJ cat/NOUN"), 0, {"c": ["red", "blue"]}) in (
        "a red cat",
        "a blue cat",
    )  # in no group: any word of the vocabulary


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A dog on the left of a cat.", "A dog on the right of a cat."),
        ("Left of the tree", "Right of the tree"),
        ("a lamp above a table, below a shelf", "a lamp below a table, above a shelf"),
        ("a cat on top of a box", "a cat under a box"),
        ("a dog under a table", "a dog on top of a table"),
        ("a shape at the top left", "a shape at the bottom right"),
        ("The lamp is in front of the sofa", "The lamp is behind the sofa"),
        ("a car behind a bus", "a car in front of a bus"),
        ("a mug ON TOP OF a book", "a mug Under a book"),
    ],
)
def test_swap_spatial(text, expected):
    assert swap_spatial(text) == expected


def test_swap_spatial_with_another_table():
    assert swap_spatial("a cup on a table", {"on": "under", "under": "on"}) == "a cup under a table"
    assert swap_spatial("a cup on a table") is None  # "on" is not in the default table
