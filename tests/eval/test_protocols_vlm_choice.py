"""VLM protocols on caption / image choice sets: caption likelihood (with CFG), generation (greedy, M3ID), VQAScore."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from vlmrobust.data.choice import (
    CaptionChoice,
    CaptionChoiceDataset,
    ImageChoice,
    ImageChoiceDataset,
    ImageRef,
)
from vlmrobust.data.collate import eval_collate
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.protocols.base import ProtocolError
from vlmrobust.eval.protocols.vlm_choice import CaptionGeneration, CaptionLikelihood, VQAScore
from vlmrobust.models.protocols import ContinuationScores

DESCRIBE = "Describe the image in one sentence."
INSTRUCTION = "Answer with the option's letter from the given choices directly."


def _info(benchmark: str, task: str = "captions", k: int = 4, n: int = 2) -> EvalSetInfo:
    return EvalSetInfo(f"toy-{benchmark}", (), (), None, n, task=task, benchmark=benchmark, num_options=k)


def _image(name: str) -> Image.Image:
    image = Image.new("RGB", (8, 8))
    image.info["name"] = name
    return image


class ScriptedVLM:
    """Scores a continuation by ``table[(image name or None, continuation)]`` (summed log-prob, one token
    per word), answers with canned strings, and records every call."""

    def __init__(self, table: dict | None = None, answers: list[str] | None = None) -> None:
        self.table, self.answers = table or {}, answers or []
        self.scored: list[tuple[list, list[str], list[list[str]]]] = []
        self.prompts: list[str] = []
        self.processor = SimpleNamespace(tokenizer=SimpleNamespace(eos_token="</s>"))

    def loglikelihood_batch(self, images, prompts, continuations):
        names = [None if i is None else i.info["name"] for i in (images or [None] * len(prompts))]
        self.scored.append((names, list(prompts), [list(c) for c in continuations]))
        out = []
        for name, conts in zip(names, continuations, strict=True):
            total = torch.tensor([float(self.table[name, c]) for c in conts])
            num = torch.tensor([len(c.split()) for c in conts])
            out.append(ContinuationScores(sum=total, mean=total / num, num_tokens=num))
        return out

    def generate(self, prompts, images=None, max_new_tokens=32):
        self.prompts = list(prompts)
        return list(self.answers)


WHATSUP_TEXTS = [
    ["a mug left of a plate", "a mug right of a plate", "a mug on a plate", "a mug under a plate"],
    ["a mug right of a plate", "a mug left of a plate", "a mug on a plate", "a mug under a plate"],
]


def _whatsup_batch() -> dict:
    meta = [{"group": "mug|plate", "relation": "left", "opposite": 1},
            {"group": "mug|plate", "relation": "right", "opposite": 1}]  # fmt: skip
    return {"image": [_image("left"), _image("right")], "texts": WHATSUP_TEXTS, "answer": torch.tensor([0, 0]),
            "label": torch.tensor([0, 0]), "index": torch.tensor([0, 1]), "meta": meta}  # fmt: skip


def _table(values: dict[str, list[float]]) -> dict:
    """(image, " caption") -> summed log-prob, from per-image lists in WHATSUP_TEXTS order."""
    out = {}
    for name, texts in zip(("left", "right"), WHATSUP_TEXTS, strict=True):
        out |= {(name, " " + t): v for t, v in zip(texts, values[name], strict=True)}
    return out


def _records(out) -> pd.DataFrame:
    return pd.DataFrame({"label": out.label, "pred": out.pred, "correct": out.correct, "extra": out.extra})


def test_caption_likelihood_scores_keys_and_whatsup_ties() -> None:
    # left/right captions have 6 words, on/under 5; image "left" ties its gold (0) with option 2 per token:
    # What'sUp counts a tie correct
    table = _table({"left": [-6.0, -9.0, -5.0, -12.0], "right": [-12.0, -3.0, -6.0, -6.0]})
    vlm, proto = ScriptedVLM(table), CaptionLikelihood()
    out = proto.predict(vlm, _info("whatsup"), _whatsup_batch())
    assert vlm.scored == [
        (["left", "right"], [DESCRIBE] * 2, [[" " + t for t in opts] for opts in WHATSUP_TEXTS])
    ]
    assert out.extra[0]["scores"] == pytest.approx([-1.0, -1.5, -1.0, -2.4])  # per-token means
    assert out.pred.tolist() == [0, 1] and out.correct.tolist() == [True, False]
    assert out.extra[1]["meta"]["relation"] == "right"
    m = proto.metrics(_records(out), _info("whatsup"))
    assert (
        m["top1"].value == 0.5 and m["individual_2way"].value == 0.5
    )  # 2-way: strict, left's tie not involved
    assert proto.key == "captions/likelihood-mean" and proto.strength == "loglik"
    summed = CaptionLikelihood(reduction="sum")
    assert summed.predict(ScriptedVLM(table), _info("whatsup"), _whatsup_batch()).pred.tolist() == [2, 1]
    assert summed.key == "captions/likelihood-sum" and summed.strength is None
    tag = hashlib.sha256(b"What is shown?").hexdigest()[:8]
    assert CaptionLikelihood(prompt="What is shown?").key == f"captions/likelihood-mean-p{tag}"
    assert CaptionLikelihood(prompt="What is shown?").key == CaptionLikelihood(prompt="What is shown?").key
    assert CaptionLikelihood(leading_space=False).key == "captions/likelihood-mean-nospace"
    with pytest.raises(ValueError, match="reduction"):
        CaptionLikelihood(reduction="max")  # type: ignore[arg-type]


def test_aro_ties_are_wrong() -> None:
    batch = {"image": [_image("x")], "texts": [["the horse is riding the man", "the man is riding the horse"]],
             "answer": torch.tensor([1]), "label": torch.tensor([1]), "index": torch.tensor([0]),
             "meta": [{"relation": "riding"}]}  # fmt: skip
    table = {("x", " the horse is riding the man"): -3.0, ("x", " the man is riding the horse"): -3.0}
    out = CaptionLikelihood().predict(ScriptedVLM(table), _info("aro-relation", k=2, n=1), batch)
    assert out.pred.tolist() == [0] and out.correct.tolist() == [False]


def test_guidance_mixes_with_and_without_image() -> None:
    table = _table({"left": [-6.0, -9.0, -5.0, -12.0], "right": [-12.0, -3.0, -6.0, -6.0]})
    # text only: "left" -1, "right" -2, "on" -30, "under" -4, whatever the image
    table |= {(None, " " + t): v for t, v in zip(WHATSUP_TEXTS[0], [-1.0, -2.0, -30.0, -4.0], strict=True)}
    vlm, t = ScriptedVLM(table), 2.0
    proto = CaptionLikelihood(reduction="sum", guidance=t)
    out = proto.predict(vlm, _info("whatsup"), _whatsup_batch())
    assert [call[0] for call in vlm.scored] == [["left", "right"], [None, None]]
    # t·with + (1 − t)·without, by hand: left = 2·(-6, -9, -5, -12) − (-1, -2, -30, -4)
    assert out.extra[0]["scores"] == [-11.0, -16.0, 20.0, -20.0] and out.pred.tolist() == [2, 2]
    assert proto.key == "captions/cfg2-sum"
    blind = ScriptedVLM(table)
    out = CaptionLikelihood(reduction="sum", guidance=0).predict(blind, _info("whatsup"), _whatsup_batch())
    assert [call[0] for call in blind.scored] == [[None, None]]  # t = 0 never looks at the image
    # the blind model says "left" for both images
    assert out.extra[1]["scores"] == [-2.0, -1.0, -30.0, -4.0] and out.pred.tolist() == [0, 1]
    assert CaptionLikelihood(guidance=0).key == "captions/cfg0-mean"


MMVP_Q = "Are the butterfly's wings closer to being open or closed?"


def _mmvp_batch() -> dict:
    return {"image": [_image("open"), _image("closed")], "question": [MMVP_Q, MMVP_Q],
            "texts": [["Open", "Closed"], ["Open", "Closed"]], "answer": torch.tensor([0, 1]),
            "label": torch.tensor([0, 1]), "index": torch.tensor([0, 1]),
            "meta": [{"pair": 0, "row": 1}, {"pair": 0, "row": 2}]}  # fmt: skip


def test_mmvp_scores_full_options_and_the_relaxed_pair() -> None:
    # both images prefer "(b) Closed", image "open" less so: plain pair wrong, relaxed pair right
    table = {("open", " (a) Open"): -4.0, ("open", " (b) Closed"): -3.0,
             ("closed", " (a) Open"): -6.0, ("closed", " (b) Closed"): -2.0}  # fmt: skip
    vlm, proto = ScriptedVLM(table), CaptionLikelihood()
    out = proto.predict(vlm, _info("mmvp", k=2), _mmvp_batch())
    assert vlm.scored[0][1:] == ([MMVP_Q, MMVP_Q], [[" (a) Open", " (b) Closed"]] * 2)
    assert out.correct.tolist() == [False, True]
    m = proto.metrics(_records(out), _info("mmvp", k=2))
    assert (m["question"].value, m["pair"].value, m["pair_relaxed"].value) == (0.5, 0.0, 1.0)
    assert "pair_relaxed" not in CaptionLikelihood(reduction="sum").metrics(_records(out), _info("mmvp", k=2))
    eos_table = {(k[0], k[1] + "</s>"): v for k, v in table.items()}
    vlm = ScriptedVLM(eos_table)
    proto = CaptionLikelihood(question_prompt="mcq", append_eos=True)
    proto.predict(vlm, _info("mmvp", k=2), _mmvp_batch())
    assert vlm.scored[0][1][0] == f"{MMVP_Q} (a) Open (b) Closed\n{INSTRUCTION}"
    assert vlm.scored[0][2][0] == [" (a) Open</s>", " (b) Closed</s>"]
    assert proto.key == "captions/likelihood-mean-mcq-eos"


def _images_batch() -> dict:
    return {"images": [[_image("a"), _image("b")], [_image("a"), _image("b")]],
            "text": ["the dog faces left", "the dog faces right"], "answer": torch.tensor([0, 1]),
            "label": torch.tensor([0, 1]), "index": torch.tensor([0, 1]),
            "meta": [{"pair": 0, "pattern": "orientation"}, {"pair": 0, "pattern": "orientation"}]}  # fmt: skip


def test_images_set_scores_the_statement_under_each_image() -> None:
    table = {("a", " the dog faces left"): -4.0, ("b", " the dog faces left"): -8.0,
             ("a", " the dog faces right"): -6.0, ("b", " the dog faces right"): -6.0,
             (None, " the dog faces left"): -1.0, (None, " the dog faces right"): -2.0}  # fmt: skip
    vlm, info = ScriptedVLM(table), _info("mmvp-vlm", task="images", k=2)
    out = CaptionLikelihood().predict(vlm, info, _images_batch())
    assert vlm.scored[0][0] == ["a", "b", "a", "b"] and vlm.scored[0][1] == [DESCRIBE] * 4
    assert vlm.scored[0][2] == [[" the dog faces left"]] * 2 + [[" the dog faces right"]] * 2
    assert out.extra[0]["scores"] == [-1.0, -2.0]
    assert out.pred.tolist() == [0, 1] and out.correct.tolist() == [True, True]  # an exact tie picks image 2
    m = CaptionLikelihood().metrics(_records(out), info)
    assert (m["statement"].value, m["pair"].value) == (1.0, 1.0)
    guided = ScriptedVLM(table)
    out = CaptionLikelihood(reduction="sum", guidance=0.5).predict(guided, info, _images_batch())
    assert guided.scored[1][:2] == ([None, None], [DESCRIBE] * 2)  # one text-only score per statement
    assert out.extra[0]["scores"] == [-2.5, -4.5]
    blind = CaptionLikelihood(guidance=0).predict(ScriptedVLM(table), info, _images_batch())
    assert blind.pred.tolist() == [1, 1]  # the text-only score is the same for both images: a tie, image 2


def test_generation_prompts_parsing_and_counts() -> None:
    answers = ["(b)", "a mug right of a plate", "A or B", ""]
    batch = _whatsup_batch()
    batch = {k: v * 2 if isinstance(v, list) else torch.cat([v, v]) for k, v in batch.items()}
    batch["index"] = torch.arange(4)
    vlm, proto = ScriptedVLM(answers=answers), CaptionGeneration()
    out = proto.predict(vlm, _info("whatsup", n=4), batch)
    lettered = " ".join(f"({c}) {t}" for c, t in zip("abcd", WHATSUP_TEXTS[0], strict=True))
    assert vlm.prompts[0] == f"Which caption describes the image? {lettered}\n{INSTRUCTION}"
    assert out.pred.tolist() == [1, 0, -1, -1] and out.correct.tolist() == [False, True, False, False]
    assert [e["status"] for e in out.extra] == ["letter", "text", "ambiguous", "empty"]
    assert out.extra[1]["output"] == "a mug right of a plate"
    m = proto.metrics(_records(out), _info("whatsup", n=4))
    assert m["top1"].value == 0.25 and "individual_2way" not in m
    counts = {s: (m[s].value, m[s].extra["count"]) for s in ("unparsed", "ambiguous", "empty")}
    assert counts == {"unparsed": (0.0, 0), "ambiguous": (0.25, 1), "empty": (0.25, 1)}
    assert proto.key == "captions/generate"
    assert CaptionGeneration(decoding="m3id").key == "captions/generate-m3id0.6-0.15"
    assert (
        CaptionGeneration(decoding="m3id", m3id_alpha=0.9, m3id_lambda=0.1).key
        == "captions/generate-m3id0.9-0.1"
    )


def test_generation_on_mmvp_uses_the_official_prompt() -> None:
    vlm = ScriptedVLM(answers=["I cannot tell", "b"])
    out = CaptionGeneration().predict(vlm, _info("mmvp", k=2), _mmvp_batch())
    assert vlm.prompts == [f"{MMVP_Q} (a) Open (b) Closed\n{INSTRUCTION}"] * 2
    assert out.pred.tolist() == [-1, 1] and [e["status"] for e in out.extra] == ["unparsed", "letter"]


def test_generation_refuses_what_it_cannot_run() -> None:
    with pytest.raises(ProtocolError, match="captions sets"):
        CaptionGeneration().check("vlm", _info("mmvp-vlm", task="images", k=2))
    with pytest.raises(ProtocolError, match="hard-positives"):
        CaptionGeneration().check("vlm", _info("hard-positives", k=3))
    with pytest.raises(ProtocolError, match="runs vlm models"):
        CaptionGeneration().check("scorer", _info("whatsup"))
    CaptionGeneration().check("vlm", _info("whatsup"))
    proto = CaptionGeneration(decoding="m3id")
    with pytest.raises(ProtocolError, match="HFGenerativeVLM"):
        proto.prepare(ScriptedVLM(), _info("whatsup"))
    with pytest.raises(ProtocolError, match="HFGenerativeVLM"):
        proto.predict(ScriptedVLM(answers=["a", "a"]), _info("whatsup"), _whatsup_batch())
    CaptionGeneration().prepare(ScriptedVLM(), _info("whatsup"))  # greedy runs any GenerativeVLM


def test_vqascore_asks_one_yes_no_question_per_pair() -> None:
    template = 'Does this figure show "{}"? Please answer yes or no.'
    table = {("left", " Yes"): -1.0, ("right", " Yes"): -2.0}

    class PerPrompt(ScriptedVLM):  # P(Yes) depends on the caption asked about: its index in the options
        def loglikelihood_batch(self, images, prompts, continuations):
            out = super().loglikelihood_batch(images, prompts, continuations)
            options = [template.format(t) for t in WHATSUP_TEXTS[0]]
            bonus = [-float(options.index(p)) if p in options else -9.0 for p in prompts]
            return [
                ContinuationScores(s.sum + b, s.mean + b, s.num_tokens)
                for s, b in zip(out, bonus, strict=True)
            ]

    vlm, proto = PerPrompt(table), VQAScore()
    out = proto.predict(vlm, _info("whatsup"), _whatsup_batch())
    names, prompts, conts = vlm.scored[0]
    assert names == ["left"] * 4 + ["right"] * 4 and conts == [[" Yes"]] * 8
    assert prompts[:4] == [template.format(t) for t in WHATSUP_TEXTS[0]]
    assert out.extra[0]["scores"] == [-1.0, -2.0, -3.0, -4.0]
    assert out.extra[1]["scores"] == [-3.0, -2.0, -4.0, -5.0] and out.pred.tolist() == [0, 1]
    assert proto.key == "captions/vqascore" and proto.strength == "loglik"
    assert VQAScore(template="Is it {caption}?").key.startswith("captions/vqascore-p")
    with pytest.raises(ValueError, match="caption"):
        VQAScore(template="Is it?")


def test_vqascore_on_question_and_images_sets() -> None:
    vlm = ScriptedVLM({("open", " Yes"): -1.0, ("closed", " Yes"): -2.0})
    VQAScore().predict(vlm, _info("mmvp", k=2), _mmvp_batch())
    assert vlm.scored[0][1][:2] == [f'Does this figure show "{MMVP_Q} {o}"? Please answer yes or no.'
                                    for o in ("Open", "Closed")]  # fmt: skip
    vlm = ScriptedVLM({("a", " Yes"): -1.0, ("b", " Yes"): -3.0})
    out = VQAScore().predict(vlm, _info("mmvp-vlm", task="images", k=2), _images_batch())
    assert vlm.scored[0][0] == ["a", "b", "a", "b"]
    assert vlm.scored[0][1][2] == 'Does this figure show "the dog faces right"? Please answer yes or no.'
    assert out.pred.tolist() == [0, 0] and out.correct.tolist() == [True, False]


# ---- the tiny LLaVA, through a CaptionChoiceDataset written to disk ----


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory):
    from vlmrobust.models.hf_vlm import load_vlm
    from vlmrobust.models.tiny_hf import write_tiny_llava

    return load_vlm(f"hf:{write_tiny_llava(tmp_path_factory.mktemp('llava'), seed=0)}")


RELATIONS = ("left", "right", "on", "under")


@pytest.fixture(scope="module")
def whatsup_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("whatsup")
    records = []
    for i, rel in enumerate(RELATIONS):
        path = root / f"mug_{rel}_plate.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(path)
        texts = [f"a mug {rel} a plate", *(f"a mug {r} a plate" for r in RELATIONS if r != rel)]
        opposite = {"left": "right", "right": "left", "on": "under", "under": "on"}[rel]
        meta = {"group": "mug|plate", "relation": rel, "opposite": texts.index(f"a mug {opposite} a plate")}
        records.append(CaptionChoice(f"mug_{rel}_plate", ImageRef(path), tuple(texts), 0, meta))
    info = EvalSetInfo("toy-whatsup", (), (), None, 4, task="captions", benchmark="whatsup", num_options=4)
    dataset = CaptionChoiceDataset(records, info)
    return info, eval_collate([dataset[i] for i in range(len(dataset))])


def test_tiny_llava_caption_likelihood_equals_per_caption_calls(tiny_llava, whatsup_set) -> None:
    info, batch = whatsup_set
    proto = CaptionLikelihood()
    out = proto.predict(tiny_llava, info, batch)
    for i, texts in enumerate(batch["texts"]):
        ref = torch.stack([
            tiny_llava.loglikelihood(batch["image"][i], DESCRIBE, [" " + t], shared_prefix=False).mean[0]
            for t in texts
        ])  # fmt: skip
        torch.testing.assert_close(torch.tensor(out.extra[i]["scores"]), ref, atol=1e-4, rtol=0)
        assert out.pred[i] == int(ref.argmax())
    m = proto.metrics(_records(out), info)
    assert {"top1", "individual", "pair", "set_of_4", "individual_2way"} <= set(m)


def test_tiny_llava_caption_likelihood_on_an_images_set(tiny_llava, whatsup_set, tmp_path) -> None:
    _, batch = whatsup_set
    refs = [ImageRef(tmp_path / f"{k}.png") for k in range(2)]
    for ref, image in zip(refs, batch["image"][:2], strict=True):
        image.save(ref.path)
    records = [ImageChoice(f"s{j}", tuple(refs), text, j, {"pair": 0, "pattern": "p"})
               for j, text in enumerate(["a mug left a plate", "a mug right a plate"])]  # fmt: skip
    info = EvalSetInfo("toy-vlm", (), (), None, 2, task="images", benchmark="mmvp-vlm", num_options=2)
    dataset = ImageChoiceDataset(records, info)
    images_batch = eval_collate([dataset[i] for i in range(2)])
    out = CaptionLikelihood(reduction="sum").predict(tiny_llava, info, images_batch)
    for j, text in enumerate(images_batch["text"]):
        ref = [
            tiny_llava.loglikelihood(img, DESCRIBE, [" " + text]).sum[0] for img in images_batch["images"][j]
        ]
        torch.testing.assert_close(torch.tensor(out.extra[j]["scores"]), torch.stack(ref), atol=1e-4, rtol=0)


@pytest.mark.parametrize("decoding", ["greedy", "m3id"])
def test_tiny_llava_caption_generation(tiny_llava, whatsup_set, decoding) -> None:
    info, batch = whatsup_set
    proto = CaptionGeneration(decoding=decoding, max_new_tokens=4)
    proto.prepare(tiny_llava, info)
    out = proto.predict(tiny_llava, info, batch)
    outputs = [e["output"] for e in out.extra]
    assert all(isinstance(o, str) for o in outputs)
    if decoding == "greedy":
        lettered = [
            " ".join(f"({c}) {t}" for c, t in zip("abcd", texts, strict=False)) for texts in batch["texts"]
        ]
        prompts = [f"Which caption describes the image? {opts}\n{INSTRUCTION}" for opts in lettered]
        assert outputs == tiny_llava.generate(prompts, batch["image"], max_new_tokens=4)
    m = proto.metrics(_records(out), info)
    assert sum(m[s].extra["count"] for s in ("unparsed", "ambiguous", "empty")) == int((out.pred < 0).sum())


def test_tiny_llava_vqascore_equals_per_pair_calls(tiny_llava, whatsup_set) -> None:
    info, batch = whatsup_set
    out = VQAScore().predict(tiny_llava, info, batch)
    for i, texts in enumerate(batch["texts"][:2]):
        ref = torch.stack([
            tiny_llava.loglikelihood(batch["image"][i], f'Does this figure show "{t}"? Please answer yes or no.',
                                     [" Yes"], shared_prefix=False).sum[0]
            for t in texts
        ])  # fmt: skip
        torch.testing.assert_close(torch.tensor(out.extra[i]["scores"]), ref, atol=1e-4, rtol=0)
