"""Hugging Face datasets conversion: eval sets and MCQ questions, both directions."""

from __future__ import annotations

import numpy as np
import pytest

from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import load_image, read_imagenet_val, read_objectnet
from vlmrobust.data.interop import image_set_from_hf, image_set_to_hf, questions_from_hf, questions_to_hf
from vlmrobust.data.mcq import build_mcq


def test_image_set_round_trip(tmp_path):
    val = read_imagenet_val(fx.write_val_folders(tmp_path / "val"))
    ds = image_set_to_hf(val)
    assert len(ds) == len(val) and ds[0]["sample_id"] == val[0].sample_id and ds[0]["label"] == val[0].label
    assert np.array_equal(np.asarray(ds[0]["image"].convert("RGB")), np.asarray(load_image(val[0].path)))
    assert image_set_from_hf(ds) == val


def test_objectnet_groups_survive(tmp_path):
    on = read_objectnet(fx.write_objectnet(tmp_path / "on"))
    back = image_set_from_hf(image_set_to_hf(on))
    assert back == on and back.border_crop == 2 and back.classes.in1k_to_class == on.classes.in1k_to_class


def test_questions_round_trip(tmp_path):
    val = read_imagenet_val(fx.write_val_folders(tmp_path / "val"))
    bench = build_mcq(val, "random", num_questions=None, seed=5)
    ds = questions_to_hf(bench.questions)
    assert ds.column_names[:3] == ["question_id", "eval_set", "sample_id"]
    assert questions_from_hf(ds) == list(bench.questions)
    bad = ds.map(lambda row: {"format_version": "other"})
    with pytest.raises(ValueError, match="dataset row 0: format_version 'other'"):
        questions_from_hf(bad)
