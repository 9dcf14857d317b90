"""Taggers: PreTagged lookups and files, the world lexicon, SpacyTagger's lazy import and its errors."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest

from vlmrobust.core.optional import MissingDependencyError
from vlmrobust.data.perturb import LexiconTagger, PreTagged, SpacyTagger, Tagger, spacy_tagger, word_tokenize

CAR = [("a", "DET"), ("red", "ADJ"), ("car", "NOUN")]


def test_word_tokenize_splits_punctuation_and_clitics_like_nltk():
    assert word_tokenize("A man's red car, parked.") == ["A", "man", "'s", "red", "car", ",", "parked", "."]
    assert word_tokenize("don't  go") == ["do", "n't", "go"]
    assert word_tokenize("a t-shirt at 3.5 m") == ["a", "t-shirt", "at", "3.5", "m"]


def test_every_tagger_implements_the_protocol():
    for tagger in (PreTagged({"a red car": CAR}), LexiconTagger(), SpacyTagger()):
        assert isinstance(tagger, Tagger)


def test_pretagged_lookup_verbatim_then_normalised():
    tagger = PreTagged({"a red car": CAR})
    assert tagger.tag("a red car") == CAR
    assert tagger.tag("  a  red car ") == CAR
    with pytest.raises(
        KeyError, match=r"no tags for caption 'a blue car' in the PreTagged mapping \(1 captions\)"
    ):
        tagger.tag("a blue car")
    assert PreTagged({}, on_missing="untagged").tag("a blue car.") == [
        ("a", "X"), ("blue", "X"), ("car", "X"), (".", "X")
    ]  # fmt: skip


def test_pretagged_rejects_penn_tags_and_malformed_pairs(tmp_path):
    with pytest.raises(ValueError, match=r"caption 'a car': token 1 \('car'\) has tag 'NN', not a universal"):
        PreTagged({"a car": [["a", "DET"], ["car", "NN"]]})
    with pytest.raises(ValueError, match="token 0 is 'a', not a"):
        PreTagged({"a": ["a"]})
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match=f"{bad}: expected a JSON object"):
        PreTagged(path=str(bad))


def test_pretagged_build_save_and_read_back(tmp_path):
    lexicon = LexiconTagger(nouns=["car", "dog"], adjectives=["red"])
    built = PreTagged.build(["a red car", "a dog", "a red car"], lexicon)
    assert len(built) == 2
    path = built.save(tmp_path / "tags.json")
    assert json.loads(path.read_text())["a red car"] == [["a", "DET"], ["red", "ADJ"], ["car", "NOUN"]]
    again = PreTagged(path=str(path))
    assert again.tag("a red car") == CAR and again.tag("a dog") == [("a", "DET"), ("dog", "NOUN")]
    with pytest.raises(KeyError, match=r"tags\.json"):
        again.tag("a cat")


def test_lexicon_tagger_lists_and_closed_class_words():
    tagger = LexiconTagger(nouns=["car", "left"], adjectives=["red"], prepositions=["atop"], verbs=["parked"])
    assert tagger.tag("The red car parked atop 2 boxes, left.") == [
        ("The", "DET"), ("red", "ADJ"), ("car", "NOUN"), ("parked", "VERB"), ("atop", "ADP"), ("2", "NUM"),
        ("boxes", "X"), (",", "PUNCT"), ("left", "NOUN"), (".", "PUNCT"),
    ]  # fmt: skip
    assert LexiconTagger(unknown="NOUN").tag("boxes") == [("boxes", "NOUN")]
    with pytest.raises(ValueError, match="unknown='NN' is not a universal POS tag"):
        LexiconTagger(unknown="NN")


def test_lexicon_tagger_knows_the_world_captions():
    tagger = LexiconTagger(world=True)
    assert tagger.tag("A photo of a small red circle on a light grey background.") == [
        ("A", "DET"), ("photo", "NOUN"), ("of", "ADP"), ("a", "DET"), ("small", "ADJ"), ("red", "ADJ"),
        ("circle", "NOUN"), ("on", "ADP"), ("a", "DET"), ("light", "ADJ"), ("grey", "ADJ"),
        ("background", "NOUN"), (".", "PUNCT"),
    ]  # fmt: skip
    assert tagger.tag("a teal star to the left of a pink heart") == [
        ("a", "DET"), ("teal", "ADJ"), ("star", "NOUN"), ("to", "ADP"), ("the", "DET"), ("left", "NOUN"),
        ("of", "ADP"), ("a", "DET"), ("pink", "ADJ"), ("heart", "NOUN"),
    ]  # fmt: skip


def test_world_captions_have_no_unknown_words():
    from vlmrobust.data.world import ProceduralWorld
    from vlmrobust.data.world.captions import caption

    tagger, world = LexiconTagger(world=True), ProceduralWorld(0, 32)
    rng = np.random.default_rng(0)
    for i in range(40):
        sample = world.sample("id", "train", i)
        for text in (sample.caption, caption("id", sample.attrs, rng)):
            assert all(t != "X" for _, t in tagger.tag(text)), text
        scene = world.scene("train", i)
        for text in (scene.relation_caption(), scene.attribute_caption):
            assert all(t != "X" for _, t in tagger.tag(text)), text


def test_spacy_is_not_imported_until_first_use():
    code = "import sys; from vlmrobust.data.perturb import SpacyTagger; SpacyTagger(); print('spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_spacy_names_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)  # import spacy -> ImportError
    with pytest.raises(MissingDependencyError) as err:
        spacy_tagger()
    message = str(err.value)
    assert "spacy is needed for part-of-speech tagging of captions" in message
    assert "pip install 'vlmrobust-data[spacy]'" in message
    assert "pip install spacy && python -m spacy download en_core_web_sm" in message
    tagger = SpacyTagger()  # lazy: constructing works, the first tag fails the same way
    with pytest.raises(MissingDependencyError, match="python -m spacy download en_core_web_sm"):
        tagger.tag("a red car")


def test_missing_spacy_model_names_the_download(monkeypatch):
    def load(name):
        raise OSError(f"[E050] Can't find model '{name}'.")

    monkeypatch.setitem(sys.modules, "spacy", types.SimpleNamespace(load=load))
    with pytest.raises(MissingDependencyError, match=r"spaCy model 'en_core_web_md' is not installed: python -m "
                       r"spacy download en_core_web_md \(spaCy said: \[E050\]"):  # fmt: skip
        spacy_tagger("en_core_web_md")


class _Token:
    def __init__(self, text: str, pos: str) -> None:
        self.text, self.pos_, self.is_space = text, pos, pos == "SPACE"


class _Nlp:
    pipe_names = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner")

    def __init__(self) -> None:
        self.disabled: list[str] = []

    def select_pipes(self, disable):
        self.disabled = list(disable)

    def __call__(self, text):
        pos = {"a": "DET", "red": "ADJ", "car": "NOUN"}
        return [_Token(w, pos.get(w, "SPACE")) for w in text.split(" ")]


def test_spacy_tagger_reads_pos_and_drops_space_tokens(monkeypatch):
    loaded: list[str] = []
    nlp = _Nlp()
    monkeypatch.setitem(
        sys.modules, "spacy", types.SimpleNamespace(load=lambda name: loaded.append(name) or nlp)
    )
    tagger = SpacyTagger()
    assert tagger.tag("a red  car") == CAR  # the empty token between the two spaces is spaCy's SPACE
    assert tagger.tag("a car") == [("a", "DET"), ("car", "NOUN")]
    assert loaded == ["en_core_web_sm"]  # loaded once
    assert nlp.disabled == ["parser", "ner", "lemmatizer"]
    copy = pickle.loads(pickle.dumps(tagger))  # a DataLoader worker's copy loads its own pipeline
    assert copy._nlp is None and copy.model == "en_core_web_sm"
