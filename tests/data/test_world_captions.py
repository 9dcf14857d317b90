"""Captions and question-answer pairs of world samples."""

from __future__ import annotations

import re

from vlmrobust.data.world import CLASS_NAMES, COLOURS, DOMAINS, ProceduralWorld
from vlmrobust.data.world.captions import tidy, where_phrase


def test_tidy_by_hand():
    assert tidy("a orange  star .") == "an orange star."
    assert tidy("an red circle") == "a red circle"
    assert tidy("A ellipse") == "An ellipse"
    assert (
        tidy("a photo of a  ellipse on a white background") == "a photo of an ellipse on a white background"
    )
    assert where_phrase("centre") == "in the centre" and where_phrase("top left") == "at the top left"
    assert where_phrase("left") == "on the left"


def test_captions_name_the_class_and_only_it():
    world = ProceduralWorld(seed=0)
    for domain in DOMAINS:
        for i in range(60):
            s = world.sample(domain, "train", i)
            words = re.findall(r"[a-z]+", s.caption)
            assert CLASS_NAMES[s.label] in words, (domain, s.caption)
            assert [c for c in CLASS_NAMES if c in words] == [CLASS_NAMES[s.label]], s.caption


def test_id_captions_are_varied_and_mention_colour():
    world = ProceduralWorld(seed=0)
    caps = [world.sample("id", "train", i) for i in range(200)]
    with_colour = [s for s in caps if s.attrs["colour"] in s.caption.split()]
    assert len(with_colour) > 0.6 * len(caps)
    assert all(s.attrs["colour"] in COLOURS for s in caps)
    skeletons = set()
    for s in caps:  # the caption with its attribute values blanked out identifies its template
        text = s.caption.replace(s.attrs["shape"], "S").replace(s.attrs["colour"], "C")
        skeletons.add(text.replace(s.attrs["background"], "B").replace("small ", "").replace("large ", ""))
    assert len({re.sub(r"\ban?\b", "a", t) for t in skeletons}) >= 8  # several distinct templates
    assert len({s.caption for s in caps}) > 100


def test_questions_answer_shape_and_colour():
    s = ProceduralWorld(seed=0).sample("id", "train", 4)
    qa = dict(s.questions())
    assert qa["What shape is in the image?"] == CLASS_NAMES[4]
    assert qa[f"What colour is the {CLASS_NAMES[4]}?"] == s.attrs["colour"]
