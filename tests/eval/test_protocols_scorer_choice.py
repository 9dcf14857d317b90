"""Scorer protocols on the compositional tasks: caption selection, image selection (MMVP-VLM) and retrieval.

Expected scores are recomputed from plain open_clip forwards (``model.model.encode_image/encode_text``) in
each test; retrieval ranks from a dense similarity matrix.
"""

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from vlmrobust.data.choice import (
    CaptionChoice,
    CaptionChoiceDataset,
    ImageChoice,
    ImageChoiceDataset,
    ImageRef,
    RetrievalDataset,
    RetrievalImage,
)
from vlmrobust.data.collate import eval_collate
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.protocols import CaptionSelection, ProtocolError, Retrieval
from vlmrobust.models.registry import load_scorer


@pytest.fixture(scope="module")
def scorer():
    return load_scorer("open_clip:vlmrobust-tiny-clip", seed=0).eval()


def _images(tmp_path, n, seed=0):
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        path = tmp_path / f"img{i}.png"
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
        paths.append(ImageRef(path))
    return paths


def _plain_cos(scorer, images, texts):
    """Cosines [N, T] by the backend's own encoders (no adapter code)."""
    m = scorer.model
    with torch.no_grad():
        img = F.normalize(m.encode_image(torch.stack(images)), dim=-1)
        txt = F.normalize(m.encode_text(scorer.tokenize(texts)), dim=-1)
    return img @ txt.T


def _info(task, benchmark, n, k):
    return EvalSetInfo(name="toy", class_names=(), templates=(), id_set=None, num_samples=n, task=task,
                       num_options=k, benchmark=benchmark)  # fmt: skip


def _predict(proto, scorer, dataset):
    dataset.transform = proto.image_transform(scorer)
    proto.prepare(scorer, dataset.info, dataset)
    batch = eval_collate([dataset[i] for i in range(len(dataset))])
    return proto.predict(scorer, dataset.info, batch)


def test_caption_selection_scores_every_option_like_plain_open_clip(scorer, tmp_path):
    refs = _images(tmp_path, 3)
    texts = [
        (
            "a red circle left of a square",
            "a red circle right of a square",
            "a circle above",
            "a circle below",
        )
    ] * 3
    records = [CaptionChoice(f"s{i}", r, t, 0, {"group": f"g{i}", "relation": "left", "opposite": 1})
               for i, (r, t) in enumerate(zip(refs, texts, strict=True))]  # fmt: skip
    ds = CaptionChoiceDataset(records, _info("captions", "whatsup", 3, 4))
    out = _predict(CaptionSelection(), scorer, ds)
    ref = _plain_cos(scorer, [scorer.preprocess(r.load()) for r in refs], list(texts[0]))
    assert np.allclose([e["scores"] for e in out.extra], ref.numpy(), atol=1e-5)
    assert out.pred.tolist() == ref.argmax(1).tolist()
    assert out.correct.tolist() == (ref.argmax(1) == 0).tolist()
    assert out.extra[0]["meta"] == {"group": "g0", "relation": "left", "opposite": 1}


def test_aro_ties_pick_the_false_caption(scorer, tmp_path):
    (ref,) = _images(tmp_path, 1)
    ds = CaptionChoiceDataset([CaptionChoice("s", ref, ("same caption", "same caption"), 1, {"relation": "on"})],
                              _info("captions", "aro-relation", 1, 2))  # fmt: skip
    out = _predict(CaptionSelection(), scorer, ds)
    assert out.pred.tolist() == [0] and out.correct.tolist() == [False]


def test_question_sets_score_the_templated_options(scorer, tmp_path):
    (ref,) = _images(tmp_path, 1)
    rec = CaptionChoice(
        "1", ref, ("Open", "Closed"), 1, {"pair": 0, "row": 1}, question="Are the wings open?"
    )
    ds = CaptionChoiceDataset([rec], _info("captions", "mmvp", 1, 2))
    out = _predict(CaptionSelection(question_template="Q: {question} A: {option}"), scorer, ds)
    ref_cos = _plain_cos(scorer, [scorer.preprocess(ref.load())],
                         ["Q: Are the wings open? A: Open", "Q: Are the wings open? A: Closed"])  # fmt: skip
    assert np.allclose(out.extra[0]["scores"], ref_cos[0].numpy(), atol=1e-5)


def test_image_selection_picks_the_statement_image_and_an_exact_tie_picks_the_second(scorer, tmp_path):
    a, b = _images(tmp_path, 2)
    records = [ImageChoice("1", (a, b), "a photo of wings open", 0, {"pair": 0, "pattern": "p"}),
               ImageChoice("2", (a, a), "a photo of wings closed", 0, {"pair": 0, "pattern": "p"})]  # fmt: skip
    ds = ImageChoiceDataset(records, _info("images", "mmvp-vlm", 2, 2))
    out = _predict(CaptionSelection(), scorer, ds)
    ref = _plain_cos(
        scorer, [scorer.preprocess(a.load()), scorer.preprocess(b.load())], ["a photo of wings open"]
    )
    assert np.allclose(out.extra[0]["scores"], ref[:, 0].numpy(), atol=1e-5)
    assert out.pred[0].item() == (0 if ref[0, 0] > ref[1, 0] else 1)
    assert (
        out.pred[1].item() == 1
    )  # identical images: an exact tie predicts image 2 (softmax 0.5 is not > 0.5)


def test_caption_protocols_refuse_class_sets(scorer):
    info = EvalSetInfo(name="world/id", class_names=("a", "b"), templates=("{}",), id_set=None, num_samples=1)
    with pytest.raises(ProtocolError, match="classification set"):
        CaptionSelection().check("scorer", info)
    with pytest.raises(ProtocolError, match="runs scorer models, not a vlm"):
        CaptionSelection().check("vlm", _info("captions", "whatsup", 1, 4))


def test_retrieval_recalls_equal_a_dense_reference(scorer, tmp_path):
    refs = _images(tmp_path, 6)
    caps = [[f"caption {i} {j}" for j in range(1 + i % 3)] for i in range(6)]
    records = [RetrievalImage(f"im{i}", r, tuple(c)) for i, (r, c) in enumerate(zip(refs, caps, strict=True))]
    ds = RetrievalDataset(records, _info("retrieval", "retrieval", 6, None))
    proto = Retrieval(ks=(1, 2), chunk=2)
    out = _predict(proto, scorer, ds)
    flat = [c for cs in caps for c in cs]
    owner = torch.tensor([i for i, cs in enumerate(caps) for _ in cs])
    sim = _plain_cos(scorer, [scorer.preprocess(r.load()) for r in refs], flat)  # [6 images, T]
    t2i_rank = (sim.T.argsort(dim=1, descending=True, stable=True) == owner[:, None]).float().argmax(1)
    i2t_order = sim.argsort(dim=1, descending=True, stable=True)  # [6, T]
    i2t_rank = torch.stack([(owner[i2t_order[i]] == i).float().argmax() for i in range(6)])
    assert out.pred.tolist() == i2t_rank.tolist()
    records_df = pd.DataFrame({"label": out.label.tolist(), "pred": out.pred.tolist(),
                               "correct": out.correct.tolist(), "extra": out.extra})  # fmt: skip
    cells = proto.metrics(records_df, ds.info)
    for k in (1, 2):
        assert cells[f"t2i_r{k}"].value == pytest.approx((t2i_rank < k).float().mean().item())
        assert cells[f"i2t_r{k}"].value == pytest.approx((i2t_rank < k).float().mean().item())
        assert cells[f"t2i_r{k}"].n == len(flat) and cells[f"i2t_r{k}"].n == 6
    assert cells["top1"].value == cells["i2t_r1"].value


def test_retrieval_needs_the_dataset_in_prepare(scorer):
    with pytest.raises(ProtocolError, match="RetrievalDataset"):
        Retrieval().prepare(scorer, _info("retrieval", "retrieval", 1, None))
