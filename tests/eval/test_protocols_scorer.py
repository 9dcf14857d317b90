"""Scorer protocols: zero-shot classification (subsets, ObjectNet columns, multi-label) and MCQ by prompt.

Expected predictions are recomputed by hand from the scorer's own embeddings in each test.
"""

import pandas as pd
import pytest
import torch

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.protocols import MCQByPrompt, ProtocolError, ZeroShotClassification
from vlmrobust.models.registry import load_scorer

CLASSES = ("circle", "square", "star", "heart", "moon", "cross")


@pytest.fixture(scope="module")
def scorer():
    return load_scorer("open_clip:vlmrobust-tiny-clip", seed=0).eval()


def _info(**kw) -> EvalSetInfo:
    args = {"name": "toy", "class_names": CLASSES, "templates": ("a photo of a {}.",), "id_set": None,
            "num_samples": 4}  # fmt: skip
    return EvalSetInfo(**{**args, **kw})


def _manual_logits(scorer, images, names):
    with torch.no_grad():
        text = scorer.encode_text([f"a photo of a {n}." for n in names], normalize=True)
        img = scorer.encode_image(images, normalize=True)
    return scorer.logit_scale.detach() * img @ text.T


def _batch(n=4, **kw):
    torch.manual_seed(1)
    return {"image": torch.rand(n, 3, 32, 32), "label": torch.arange(n) % 3, "index": torch.arange(n), **kw}


def test_zeroshot_predicts_the_argmax_class_and_top5(scorer):
    info, batch = _info(), _batch()
    proto = ZeroShotClassification()
    proto.prepare(scorer, info)
    out = proto.predict(scorer, info, batch)
    logits = _manual_logits(scorer, batch["image"], CLASSES)
    assert out.pred.tolist() == logits.argmax(1).tolist()
    assert out.correct.tolist() == (logits.argmax(1) == batch["label"]).tolist()
    best5 = logits.topk(5, dim=1).indices
    assert [e["top5"] for e in out.extra] == best5.tolist()
    assert [e["top5_correct"] for e in out.extra] == (best5 == batch["label"][:, None]).any(1).tolist()
    assert proto.key == "zeroshot/dataset"


def test_objectnet_style_columns_take_the_argmax_over_mapped_columns(scorer):
    # classes "round" <- circle, moon; "pointy" <- star, cross; "boxy" <- square (5 head columns, 3 classes)
    info = _info(class_names=("round", "pointy", "boxy"), head_names=("circle", "moon", "star", "cross", "square"),
                 head_to_class=(0, 0, 1, 1, 2))  # fmt: skip
    batch = _batch()
    proto = ZeroShotClassification(templates="single")
    proto.prepare(scorer, info)
    out = proto.predict(scorer, info, batch)
    logits = _manual_logits(scorer, batch["image"], info.head_names)
    expected = torch.tensor(info.head_to_class)[logits.argmax(1)]
    assert out.pred.tolist() == expected.tolist()
    assert out.extra is None  # 3 classes: no top-5


def test_multi_label_counts_a_prediction_in_the_label_set(scorer):
    info, batch = _info(multi_label=True), _batch()
    proto = ZeroShotClassification()
    proto.prepare(scorer, info)
    with pytest.raises(KeyError, match="toy is multi-label, but its batches carry no 'labels'"):
        proto.predict(scorer, info, batch)
    single = _info()
    proto.prepare(scorer, single)
    pred = proto.predict(scorer, single, batch).pred
    labels = torch.zeros(4, len(CLASSES), dtype=torch.bool)
    labels[torch.arange(4), pred] = True  # every prediction is in its image's set ...
    first = (pred + 1) % len(CLASSES)
    labels[torch.arange(4), first] = True  # ... but the first (official) label is another class
    out = proto.predict(scorer, info, {**batch, "label": first, "labels": labels})
    assert out.correct.all() and not (out.pred == first).any()


def test_metrics_are_exact_counts_from_records():
    proto = ZeroShotClassification()
    records = pd.DataFrame(
        {
            "label": [0, 0, 1, 2, 2, 2],
            "pred": [0, 1, 1, 2, 0, 0],
            "correct": [True, False, True, True, False, False],
            "extra": [{"top5_correct": v} for v in (True, True, True, True, False, True)],
        }
    )
    m = proto.metrics(records, _info(num_samples=6))
    assert (m["top1"].value, m["top1"].n, m["top1"].extra["correct"]) == (3 / 6, 6, 3)
    assert m["top5"].value == 5 / 6
    assert m["per_class_mean"].value == pytest.approx((1 / 2 + 1 + 1 / 3) / 3)  # classes 3-5 are empty


def test_mcq_by_prompt_picks_the_best_option_prompt(scorer):
    info = _info(task="mcq", num_options=3)
    options = torch.tensor([[0, 1, 2], [5, 4, 3], [2, 0, 4], [1, 3, 5]])
    batch = _batch(options=options, answer=torch.tensor([0, 1, 2, 0]))
    proto = MCQByPrompt()
    proto.prepare(scorer, info)
    out = proto.predict(scorer, info, batch)
    logits = _manual_logits(scorer, batch["image"], CLASSES)
    option_logits = logits.gather(1, options)
    assert out.pred.tolist() == option_logits.argmax(1).tolist()
    assert all(0 <= p < 3 for p in out.pred.tolist())  # an option position, never a class index
    assert out.correct.tolist() == (option_logits.argmax(1) == batch["answer"]).tolist()
    torch.testing.assert_close(
        torch.tensor([e["scores"] for e in out.extra]), option_logits, atol=1e-5, rtol=0
    )
    assert proto.key == "mcq/prompt-dataset"


def test_protocols_refuse_what_they_cannot_run():
    with pytest.raises(
        ProtocolError, match=r"'zeroshot/dataset' runs classification sets; 'toy' is a mcq set"
    ):
        ZeroShotClassification().check("scorer", _info(task="mcq", num_options=4))
    with pytest.raises(
        ProtocolError, match=r"runs scorer models, not a vlm; protocols for a vlm: mcq-generate"
    ):
        MCQByPrompt().check("vlm", _info(task="mcq", num_options=4))


def test_a_score_array_of_the_wrong_width_is_refused(scorer):
    info = _info()
    proto = ZeroShotClassification()
    proto.prepare(scorer, info)
    proto._heads["toy"] = proto._heads["toy"][:4]  # a head for 4 of the 6 classes
    with pytest.raises(ValueError, match="toy"):
        proto.predict(scorer, info, _batch())


def test_rank_depth_stores_the_deeper_ranking_that_confusion_distractors_read(scorer):
    info, batch = _info(), _batch()
    proto = ZeroShotClassification(rank_depth=6)
    proto.prepare(scorer, info)
    out = proto.predict(scorer, info, batch)
    logits = _manual_logits(scorer, batch["image"], CLASSES)
    assert [e["ranking"] for e in out.extra] == logits.argsort(dim=1, descending=True, stable=True).tolist()
    plain = ZeroShotClassification()
    plain.prepare(scorer, info)
    assert "ranking" not in plain.predict(scorer, info, batch).extra[0]
