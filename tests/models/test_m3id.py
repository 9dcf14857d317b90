"""M3ID decoding: the correction rule by hand, a scripted model end to end, and the tiny VLMs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from vlmrobust.models.m3id import generate_m3id, m3id_scores

EOS = 3


def test_correction_formula_by_hand() -> None:
    p_c = torch.tensor([[0.5, 0.3, 0.2], [0.7, 0.2, 0.1]], dtype=torch.float64)  # row 1 is confident
    p_u = torch.tensor([[0.2, 0.7, 0.1], [0.1, 0.1, 0.8]], dtype=torch.float64)
    t, alpha, lam = 2, 0.6, 0.5
    weight = (1 - math.exp(-lam * t)) / math.exp(-lam * t)  # the paper's form: e - 1
    expected = [
        [math.log(0.5) + weight * math.log(0.5 / 0.2), math.log(0.3) + weight * math.log(0.3 / 0.7),
         math.log(0.2) + weight * math.log(0.2 / 0.1)],
        [math.log(0.7), math.log(0.2), math.log(0.1)],
    ]  # fmt: skip
    got = m3id_scores(p_c.log(), p_u.log(), t, alpha, lam)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64), atol=1e-12, rtol=0)
    assert got.argmax(-1).tolist() == [0, 0]
    # the threshold is strict: max l_c == log(alpha) is confident, so no correction
    torch.testing.assert_close(m3id_scores(p_c.log(), p_u.log(), t, 0.5, lam)[0], p_c.log()[0])


# Next-token probabilities per (row, stream, step); V = 4, token 3 is EOS.
SCRIPT = {
    (0, True): [[0.5, 0.45, 0.04, 0.01], [0.7, 0.1, 0.1, 0.1], [0.35, 0.3, 0.05, 0.3], [0.1, 0.1, 0.1, 0.7]],
    (0, False): [[0.6, 0.2, 0.1, 0.1], [0.01, 0.01, 0.01, 0.97], [0.5, 0.1, 0.1, 0.3], [0.25] * 4],
    (1, True): [[0.05, 0.05, 0.1, 0.8]],
    (1, False): [[0.9, 0.05, 0.03, 0.02]],
}


class ScriptedLM(torch.nn.Module):
    """Returns SCRIPT's next-token distributions; the cache says which stream and step; records fed tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: list[tuple[bool, list[int]]] = []

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None, use_cache=None,
                pixel_values=None):  # fmt: skip
        if past_key_values is None:
            cache = {"image": pixel_values is not None, "step": 0}
        else:
            cache = {**past_key_values, "step": past_key_values["step"] + 1}
            self.fed.append((cache["image"], input_ids[:, 0].tolist()))
            assert attention_mask.shape[1] == 2 + cache["step"]  # prefix of 2 tokens + the fed ones
            assert position_ids[:, 0].tolist() == [1 + cache["step"]] * input_ids.shape[0]
        rows = []
        for b in range(input_ids.shape[0]):
            table = SCRIPT[(b, cache["image"])]
            rows.append(table[min(cache["step"], len(table) - 1)])
        logits = torch.tensor(rows, dtype=torch.float64).log()[:, None] + 5.0  # [B, 1, V]; any shift
        return SimpleNamespace(logits=logits, past_key_values=cache)


class ScriptedVLM:
    """The parts of ``HFGenerativeVLM`` that ``generate_m3id`` uses."""

    def __init__(self) -> None:
        self.model = ScriptedLM()
        self.tokenizer = SimpleNamespace(
            pad_token_id=0,
            eos_token_id=EOS,
            decode=lambda ids, skip_special_tokens: " ".join(f"t{i}" for i in ids),
        )

    def encode_prompt(self, image, prompt):
        enc = {"input_ids": torch.tensor([[5, 6]]), "attention_mask": torch.ones(1, 2, dtype=torch.long)}
        return enc | ({"pixel_values": torch.zeros(1, 3, 2, 2)} if image is not None else {})

    def reset_position_state(self) -> None:
        pass


def test_scripted_model_follows_the_rule_and_stops_at_eos() -> None:
    vlm, images = ScriptedVLM(), [Image.new("RGB", (4, 4))] * 2
    # λ = ln 2: weights 2^t - 1 = 1, 3, 7. t=1: unsure, correction flips 0 -> 1; t=2: confident (0.7 >= 0.6),
    # 0 despite the text-only stream; t=3: unsure, weight 7 -> 1; t=4: EOS. Row 1 emits EOS at once.
    assert generate_m3id(vlm, ["q", "q"], images, max_new_tokens=8, alpha=0.6, lam=math.log(2)) == [
        "t1 t0 t1",
        "",
    ]
    # both streams are fed the chosen tokens; row 1 its EOS, then padding
    assert vlm.model.fed == [(s, tok) for tok in ([1, EOS], [0, 0], [1, 0]) for s in (True, False)]
    # never corrected (alpha tiny): plain greedy on the image stream
    assert generate_m3id(ScriptedVLM(), ["q", "q"], images, 8, alpha=1e-9, lam=math.log(2)) == [
        "t0 t0 t0",
        "",
    ]
    assert generate_m3id(ScriptedVLM(), ["q", "q"], images, 2, alpha=0.6, lam=math.log(2)) == ["t1 t0", ""]


def test_bad_arguments_are_refused() -> None:
    vlm, image = ScriptedVLM(), Image.new("RGB", (4, 4))
    with pytest.raises(TypeError, match="single str"):
        generate_m3id(vlm, "q", [image])
    with pytest.raises(ValueError, match="one image per prompt"):
        generate_m3id(vlm, ["a", "b"], [image])
    with pytest.raises(ValueError, match="alpha > 0"):
        generate_m3id(vlm, ["a"], [image], alpha=0.0)


def _images(n: int) -> list[Image.Image]:
    return [
        Image.fromarray(np.random.default_rng(s).integers(0, 256, (40, 50, 3), dtype=np.uint8))
        for s in range(n)
    ]


@pytest.mark.parametrize("lam", [0.0, 1e-9])
def test_vanishing_correction_equals_greedy_generation(family, tiny_vlms, lam) -> None:
    vlm = tiny_vlms[family]
    prompts = ["What is this?", "Describe the image in one sentence.", "Hi"]
    images = _images(3)
    greedy = vlm.generate(prompts, images, max_new_tokens=6)
    assert generate_m3id(vlm, prompts, images, max_new_tokens=6, alpha=1e9, lam=lam) == greedy


def test_runs_on_tiny_llava_with_the_paper_settings(tiny_vlms) -> None:
    out = generate_m3id(tiny_vlms["llava"], ["What is this?", "Hi"], _images(2), max_new_tokens=5)
    assert len(out) == 2 and all(isinstance(s, str) for s in out)
    assert generate_m3id(tiny_vlms["llava"], [], []) == []
