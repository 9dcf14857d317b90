"""CaptionsDataModule(hard_negatives=...): negative_j columns for NegCLIP, deterministic, fallbacks counted."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from jsonargparse import ArgumentParser

from vlmrobust.core.optional import MissingDependencyError
from vlmrobust.data.captions import CaptionPairDataset, write_karpathy
from vlmrobust.data.datamodules import CaptionsDataModule
from vlmrobust.data.perturb import HardNegatives, LexiconTagger, PreTagged, SpacyTagger

KINDS = ["swap_attributes", "swap_relation", "swap_spatial"]


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    return write_karpathy(tmp_path_factory.mktemp("coco"), "coco", {"train": 3, "restval": 1}, seed=2)


def _dm(coco, **kw) -> CaptionsDataModule:
    args = {"batch_size": 4, "image_size": 16, "drop_last": False, "seed": 1}
    args |= {"hard_negatives": KINDS, "tagger": LexiconTagger(world=True)}
    return CaptionsDataModule(str(coco.json_path), str(coco.image_root), **{**args, **kw})


def _negatives(dm: CaptionsDataModule) -> dict[int, tuple[str, ...]]:
    out = {}
    for batch in dm.train_dataloader():
        for i, index in enumerate(batch["index"].tolist()):
            out[index] = tuple(batch[f"negative_{j}"][i] for j in range(len(KINDS)))
    return out


def test_batches_carry_one_negative_column_per_kind(coco):
    dm = _dm(coco)
    batches = list(dm.train_dataloader())
    assert sum(len(b["caption"]) for b in batches) == len(dm.train_set) == 21
    maker = HardNegatives(KINDS, LexiconTagger(world=True), seed=1)
    fallbacks = 0
    for b in batches:
        size = len(b["caption"])
        assert b["negative_fallback"].shape == (size, 3) and b["negative_fallback"].dtype == torch.bool
        for j in range(3):
            assert isinstance(b[f"negative_{j}"], list) and len(b[f"negative_{j}"]) == size
        for i, (index, caption) in enumerate(zip(b["index"].tolist(), b["caption"], strict=True)):
            negatives = [b[f"negative_{j}"][i] for j in range(3)]
            assert caption not in negatives
            draw = maker(caption, index, dm.train_set._other_caption(dm.train_set.locate(index)[0]))
            assert tuple(negatives) == draw.negatives  # the pair's own (seed, index) draw
            assert tuple(b["negative_fallback"][i].tolist()) == draw.fallback
        fallbacks += int(b["negative_fallback"].sum())
        dm.on_before_batch_transfer(b, 0)  # what the Trainer calls as it trains the batch
    assert dm.hard_negatives_served == 21 * 3
    assert dm.hard_negative_fallbacks == fallbacks > 0  # most world captions have one noun phrase
    assert dm.hard_negative_fallback_rate == fallbacks / 63


def test_the_world_captions_get_their_kind_where_it_applies(coco):
    dm = _dm(coco)
    dm.setup("fit")
    item = next(dm.train_set[i] for i in range(len(dm.train_set)) if " on a " in dm.train_set[i]["caption"])
    # "A photo of a <colour> <shape> on a <background> background." has two attributed noun phrases
    assert not item["negative_fallback"][0]


def test_negatives_are_the_same_every_epoch_and_with_workers(coco):
    first = _negatives(_dm(coco))
    assert _negatives(_dm(coco)) == first
    assert _negatives(_dm(coco, num_workers=1)) == first  # made in a worker process: same draws
    other_seed = _negatives(_dm(coco, seed=2))
    assert other_seed.keys() == first.keys() and other_seed != first


def test_without_hard_negatives_no_columns(coco):
    dm = _dm(coco, hard_negatives=())
    batch = next(iter(dm.train_dataloader()))
    assert not any(k.startswith("negative") for k in batch)
    dm.on_before_batch_transfer(batch, 0)
    assert dm.hard_negatives_served == 0 and dm.hard_negative_fallback_rate == 0.0


def test_default_tagger_is_spacy_and_fails_at_setup_when_missing(coco, monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)
    dm = _dm(coco, tagger=None)
    with pytest.raises(MissingDependencyError, match="pip install spacy && python -m spacy download"):
        dm.setup("fit")
    spatial = _dm(coco, tagger=None, hard_negatives=["swap_spatial"])  # needs no tagger
    batch = next(iter(spatial.train_dataloader()))
    assert len(batch["negative_0"]) == 4
    assert spatial.negatives is not None and isinstance(spatial.negatives.tagger, SpacyTagger)


def test_unknown_kind_and_hyperparameters(coco):
    with pytest.raises(ValueError, match="Did you mean 'swap_spatial'"):
        _dm(coco, hard_negatives=["swap_spatials"])
    dm = _dm(coco)
    assert "tagger" not in dm.hparams and list(dm.hparams["hard_negatives"]) == KINDS


def test_config_accepts_taggers_by_class_path(coco):
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(CaptionsDataModule, "data")
    base = ["--data.annotations", str(coco.json_path), "--data.image_root", str(coco.image_root),
            "--data.hard_negatives", "[swap_attributes, swap_relation]"]  # fmt: skip
    for tagger, cls in [
        ("{class_path: vlmrobust.data.perturb.SpacyTagger, init_args: {model: en_core_web_sm}}", SpacyTagger),
        ("{class_path: vlmrobust.data.perturb.LexiconTagger, init_args: {world: true}}", LexiconTagger),
        ("{class_path: vlmrobust.data.perturb.PreTagged, init_args: {tags: {a dog: [[a, DET], [dog, NOUN]]}}}",
         PreTagged),
    ]:  # fmt: skip
        dm = parser.instantiate(parser.parse_args([*base, "--data.tagger", tagger])).data
        assert isinstance(dm.tagger, cls) and dm.hard_negatives == ("swap_attributes", "swap_relation")


def test_pair_dataset_other_caption_never_draws_the_same_image(coco):
    dm = _dm(coco)
    dm.setup("fit")
    data: CaptionPairDataset = dm.train_set
    rng = np.random.default_rng(0)
    draw = data._other_caption(0)
    own = set(data.records[0].captions)
    assert all(draw(rng) not in own for _ in range(50))
