"""The ``head/<name>`` protocol: a trained head answers an eval set over the set's own classes."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.protocols import ProtocolError
from vlmrobust.eval.protocols.head import HeadClassification

HEAD_CLASSES = ("cat", "dog", "fox", "owl", "elk", "yak")


class FixedLogits:
    """An ``ImageClassifier`` whose logits are the batch's images themselves ([B, 6])."""

    class_names = HEAD_CLASSES
    preprocess = staticmethod(lambda image: image)

    def class_logits(self, images: torch.Tensor) -> torch.Tensor:
        return images


def _info(classes, task="classification", **kw) -> EvalSetInfo:
    return EvalSetInfo(name="s", class_names=tuple(classes), templates=("{}",), id_set=None, num_samples=2,
                       task=task, **kw)  # fmt: skip


LOGITS = torch.tensor([[0.0, 5.0, 1.0, 2.0, 9.0, 0.0], [3.0, 0.0, 1.0, 4.0, 0.0, 8.0]])


def test_subset_sets_read_only_their_columns() -> None:
    proto, model = HeadClassification("ce"), FixedLogits()
    info = _info(["owl", "cat", "fox"])  # a subset in another order: columns 3, 0, 2
    proto.prepare(model, info)
    out = proto.predict(model, info, {"image": LOGITS, "label": [0, 0], "index": [0, 1]})
    # row 0: owl 2, cat 0, fox 1 -> owl (0); row 1: owl 4, cat 3, fox 1 -> owl (0). elk/yak never count.
    assert out.pred.tolist() == [0, 0] and out.correct.tolist() == [True, True]
    assert proto.key == "head/ce"


def test_sets_with_several_columns_per_class_take_the_max() -> None:
    proto, model = HeadClassification(), FixedLogits()
    info = _info(["pet", "wild"], head_names=("cat", "dog", "elk", "yak"), head_to_class=(0, 0, 1, 1))
    proto.prepare(model, info)
    out = proto.predict(model, info, {"image": LOGITS, "label": [1, 0], "index": [0, 1]})
    assert out.pred.tolist() == [1, 1]  # row 0: elk 9 > dog 5; row 1: yak 8 > cat 3
    assert out.correct.tolist() == [True, False]


def test_mcq_picks_the_option_with_the_highest_logit() -> None:
    proto, model = HeadClassification(), FixedLogits()
    info = _info(HEAD_CLASSES, task="mcq", num_options=3)
    proto.prepare(model, info)
    batch = {"image": LOGITS, "options": [[0, 1, 2], [2, 3, 1]], "answer": [1, 1], "index": [0, 1]}
    out = proto.predict(model, info, batch)
    assert out.pred.tolist() == [1, 1] and out.correct.tolist() == [True, True]
    records = pd.DataFrame({"label": [1, 1], "pred": [1, 1], "correct": [True, True], "extra": out.extra})
    assert proto.metrics(records, info)["top1"].value == 1.0


def test_missing_classes_are_refused_by_name() -> None:
    with pytest.raises(ProtocolError, match=r"lack 2 of 's'.*\['emu', 'ant'\]"):
        HeadClassification().prepare(FixedLogits(), _info(["cat", "emu", "ant"]))
    with pytest.raises(RuntimeError, match="prepare"):
        HeadClassification().predict(FixedLogits(), _info(["cat"]), {"image": LOGITS})
