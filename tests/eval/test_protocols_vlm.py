"""VLM and embedder protocols: parsed generations, option likelihoods (with CFG), cosine argmax."""

import pandas as pd
import pytest
import torch
from PIL import Image

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.prompts import format_mcq
from vlmrobust.eval.protocols import EmbedderMCQ, MCQGeneration, MCQLikelihood

CLASSES = ("tench", "goldfish", "great white shark", "tiger shark")
INFO = EvalSetInfo("toy", CLASSES, ("a photo of a {}.",), None, 3, task="mcq", num_options=3)
OPTIONS = torch.tensor([[0, 1, 2], [3, 2, 1], [1, 0, 3]])


def _batch():
    images = [Image.new("RGB", (32, 32), c) for c in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]
    return {"image": images, "index": torch.arange(3), "options": OPTIONS, "answer": torch.tensor([1, 0, 2]),
            "label": torch.tensor([1, 3, 3])}  # fmt: skip


class CannedVLM:
    """Answers with fixed strings and records the prompts it was asked (a stand-in for ``generate``)."""

    def __init__(self, answers):
        self.answers, self.prompts = answers, None

    def generate(self, prompts, images=None, max_new_tokens=32):
        self.prompts = list(prompts)
        return list(self.answers)


def test_generation_parses_letters_and_never_guesses():
    vlm = CannedVLM(["(B) goldfish", "A or B", "I cannot tell."])
    proto = MCQGeneration()
    out = proto.predict(vlm, INFO, _batch())
    assert vlm.prompts[0] == format_mcq(
        "What type of object is in this photo?", ["tench", "goldfish", "great white shark"]
    )
    assert out.pred.tolist() == [1, -1, -1] and out.correct.tolist() == [True, False, False]
    assert [e["status"] for e in out.extra] == ["letter", "ambiguous", "unparsed"]
    assert out.extra[0]["output"] == "(B) goldfish"
    records = pd.DataFrame({"label": out.label, "pred": out.pred, "correct": out.correct, "extra": out.extra})
    m = proto.metrics(records, INFO)
    assert m["top1"].value == pytest.approx(1 / 3)
    assert (m["unparsed"].extra["count"], m["ambiguous"].extra["count"], m["empty"].extra["count"]) == (
        1,
        1,
        0,
    )


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    from vlmrobust.models.hf_vlm import load_vlm
    from vlmrobust.models.tiny_hf import write_tiny_llava

    return load_vlm(f"hf:{write_tiny_llava(tmp_path_factory.mktemp('llava'), seed=0)}")


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_likelihood_equals_per_question_scores(tiny_llava, reduction):
    batch = _batch()
    out = MCQLikelihood(reduction=reduction).predict(tiny_llava, INFO, batch)
    q = "What type of object is in this photo?"
    for i in range(3):
        names = [" " + CLASSES[k] for k in OPTIONS[i].tolist()]
        ref = getattr(tiny_llava.loglikelihood(batch["image"][i], q, names), reduction)
        torch.testing.assert_close(torch.tensor(out.extra[i]["scores"]), ref, atol=1e-4, rtol=0)
        assert out.pred[i] == int(ref.argmax())


def test_guidance_mixes_image_and_text_only_likelihoods(tiny_llava):
    batch, t = _batch(), 1.5
    out = MCQLikelihood(reduction="sum", guidance=t).predict(tiny_llava, INFO, batch)
    q = "What type of object is in this photo?"
    names = [" " + CLASSES[k] for k in OPTIONS[0].tolist()]
    with_image = tiny_llava.loglikelihood(batch["image"][0], q, names).sum
    text_only = tiny_llava.loglikelihood(None, q, names).sum
    torch.testing.assert_close(torch.tensor(out.extra[0]["scores"]), t * with_image + (1 - t) * text_only,
                               atol=1e-4, rtol=0)  # fmt: skip
    assert MCQLikelihood(reduction="sum", guidance=t).key == "mcq/cfg1.5-sum-a4-3"


def test_embedder_mcq_picks_the_nearest_option_text(tmp_path):
    from vlmrobust.models.registry import load_embedder
    from vlmrobust.models.tiny_hf import write_tiny_llava

    emb = load_embedder(f"hf:{write_tiny_llava(tmp_path / 'llava', seed=0)}")
    batch = _batch()
    proto = EmbedderMCQ(templates="single")
    proto.prepare(emb, INFO)
    out = proto.predict(emb, INFO, batch)
    with torch.no_grad():
        q = torch.nn.functional.normalize(emb.embed_queries([""] * 3, batch["image"]), dim=-1)
        t = torch.nn.functional.normalize(emb.embed_targets([f"a photo of a {c}." for c in CLASSES]), dim=-1)
    expected = (q @ t.T).gather(1, OPTIONS).argmax(1)
    assert out.pred.tolist() == expected.tolist()
