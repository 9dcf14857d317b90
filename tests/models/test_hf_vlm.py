"""The Hugging Face generative VLM adapter on a tiny LLaVA written to disk and loaded via from_pretrained."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from vlmrobust.models.checkpoints import WeightsNotCachedError
from vlmrobust.models.hf_vlm import HFGenerativeVLM, extend_token_inputs, load_vlm
from vlmrobust.models.protocols import GenerativeVLM

# What each family's chat template must produce, and the LM tokens one image takes.
PROMPTS = {
    "llava": ("USER: <image>\nWhat is this? ASSISTANT:", "USER: Hi ASSISTANT:", 17),  # 4x4 patches + CLS
    "qwen2_vl": (
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>What is this?<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
        2,  # 40x50 resized to 16x32 (<= 32*32 pixels, multiples of 16), 2x4 patches merged 2x2
    ),
    "idefics3": (
        "<|im_start|>User:<image>What is this?<end_of_utterance>\nAssistant:",
        "<|im_start|>User: Hi<end_of_utterance>\nAssistant:",
        4,  # 32x32 global image, 4x4 patches, pixel shuffle by 2
    ),
}
OPTIONS = [" a red square", " circle", " B", " a photo of a dog to the left of a green triangle"]


def _image(seed: int = 0) -> Image.Image:
    rgb = np.random.default_rng(seed).integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    return Image.fromarray(rgb)


def _reference_logprobs(vlm: HFGenerativeVLM, image: Image.Image | None, prompt: str, option: str) -> float:
    """Reference: one uncached forward over prompt + option, log-softmax and sum by hand in float64."""
    text = vlm.format_prompt(prompt, with_image=image is not None)
    kwargs = {"text": [text], "return_tensors": "pt"}
    if image is not None:
        kwargs["images"] = [image]
    enc = dict(vlm.processor(**kwargs))
    cont = vlm.tokenizer(option, add_special_tokens=False)["input_ids"]
    inputs = extend_token_inputs(enc, torch.tensor([cont]))
    with torch.no_grad():
        logits = vlm.model(**inputs, use_cache=False).logits[0].double()
    p = enc["input_ids"].shape[1]
    return sum(float(logits[p - 1 + j].log_softmax(-1)[tok]) for j, tok in enumerate(cont))


MODEL_CLASSES = {
    "llava": "LlavaForConditionalGeneration",
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "idefics3": "Idefics3ForConditionalGeneration",
}


def test_loads_through_from_pretrained_and_follows_protocol(family, tiny_vlms, tiny_vlm_dirs) -> None:
    vlm, path = tiny_vlms[family], tiny_vlm_dirs[family]
    names = {p.name for p in path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    assert isinstance(vlm, GenerativeVLM)
    assert type(vlm.model).__name__ == MODEL_CLASSES[family]
    assert vlm.model.config._attn_implementation == "sdpa"
    assert not vlm.model.training
    assert vlm.spec == f"hf:{path}"


def test_chat_template_formats_prompt(family, tiny_vlms) -> None:
    vlm = tiny_vlms[family]
    with_image, text_only, num_image_tokens = PROMPTS[family]
    assert vlm.format_prompt("What is this?") == with_image
    assert vlm.format_prompt("Hi", with_image=False) == text_only
    enc = vlm.encode_prompt(_image(), "What is this?")
    image_token = vlm.model.config.image_token_id
    assert int((enc["input_ids"] == image_token).sum()) == num_image_tokens


def test_loglikelihood_matches_reference(family, tiny_vlms) -> None:
    vlm = tiny_vlms[family]
    image = _image()
    for img in (image, None):
        scores = vlm.loglikelihood(img, "What is this?", OPTIONS)
        expected = [_reference_logprobs(vlm, img, "What is this?", o) for o in OPTIONS]
        n = [len(vlm.tokenizer(o, add_special_tokens=False)["input_ids"]) for o in OPTIONS]
        assert scores.num_tokens.tolist() == n
        torch.testing.assert_close(scores.sum, torch.tensor(expected, dtype=torch.float32), atol=1e-4, rtol=0)
        torch.testing.assert_close(scores.mean, scores.sum / torch.tensor(n), atol=1e-6, rtol=0)
        assert (scores.sum < 0).all()
    with_image = vlm.loglikelihood(image, "What is this?", OPTIONS)
    without = vlm.loglikelihood(None, "What is this?", OPTIONS)
    assert (with_image.sum - without.sum).abs().max() > 1e-3  # the image matters


def test_shared_prefix_equals_naive_per_option_forwards(family, tiny_vlms) -> None:
    vlm = tiny_vlms[family]
    for seed, with_image in ((0, True), (1, False), (2, True)):  # text-only in between: no stale M-RoPE state
        image = _image(seed) if with_image else None
        shared = vlm.loglikelihood(image, "Which shape is it?", OPTIONS, shared_prefix=True)
        naive = vlm.loglikelihood(image, "Which shape is it?", OPTIONS, shared_prefix=False)
        torch.testing.assert_close(shared.sum, naive.sum, atol=1e-4, rtol=0)
        torch.testing.assert_close(shared.mean, naive.mean, atol=1e-4, rtol=0)
        assert shared.choice("sum") == naive.choice("sum")
        assert shared.choice("mean") == int(naive.mean.argmax())
    # single-token options only use the prefix's last logits
    single = vlm.loglikelihood(_image(), "Pick", [" A", " B"])
    naive = vlm.loglikelihood(_image(), "Pick", [" A", " B"], shared_prefix=False)
    torch.testing.assert_close(single.sum, naive.sum, atol=1e-4, rtol=0)


def test_generate_greedy_is_deterministic(family, tiny_vlms) -> None:
    vlm = tiny_vlms[family]
    images = [_image(0), _image(1)]
    a = vlm.generate(["What is this?", "Describe it."], images, max_new_tokens=4)
    b = vlm.generate(["What is this?", "Describe it."], images, max_new_tokens=4)
    assert a == b and len(a) == 2 and all(isinstance(s, str) for s in a)
    # batched left-padded generation equals one-by-one generation
    assert vlm.generate(["Describe it."], images[1:], max_new_tokens=4) == a[1:]
    assert len(vlm.generate(["Hello"], max_new_tokens=3)) == 1
    with pytest.raises(ValueError, match="one image per prompt"):
        vlm.generate(["a", "b"], images[:1])


def test_bad_continuations(tiny_vlms) -> None:
    vlm = tiny_vlms["llava"]
    with pytest.raises(TypeError, match="single str"):
        vlm.loglikelihood(None, "q", " a")
    with pytest.raises(ValueError, match="at least one token"):
        vlm.loglikelihood(None, "q", [" a", ""])


def test_missing_chat_template_says_how_to_fix(tiny_vlm_dirs, tmp_path) -> None:
    from vlmrobust.models.tiny_hf import write_tiny_llava

    llava_dir = tiny_vlm_dirs["llava"]
    bare = write_tiny_llava(tmp_path / "bare", chat_template=None)
    assert not (bare / "chat_template.jinja").exists()
    assert "chat_template" not in json.loads((bare / "processor_config.json").read_text())
    with pytest.raises(ValueError, match=r"no chat template.*chat_template="):
        load_vlm(f"hf:{bare}")
    template = (llava_dir / "chat_template.jinja").read_text()
    vlm = load_vlm(f"hf:{bare}", chat_template=template)
    assert vlm.format_prompt("q") == "USER: <image>\nq ASSISTANT:"


def test_missing_dir_and_uncached_repo(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        load_vlm(f"hf:{tmp_path}/nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_vlm(f"hf:{tmp_path}/empty")
    with pytest.raises(WeightsNotCachedError, match=r"(?s)HF_HUB_OFFLINE=1.*hf download"):
        load_vlm("hf:vlmrobust-test/not-a-cached-repo")
    with pytest.raises(ValueError, match="hf:"):
        load_vlm("open_clip:vlmrobust-tiny-clip")


def test_attention_request_that_cannot_run(tiny_vlm_dirs) -> None:
    llava_dir = tiny_vlm_dirs["llava"]
    with pytest.raises(ValueError, match=r"flash_attention_2.*CUDA"):
        load_vlm(f"hf:{llava_dir}", attn_implementation="flash_attention_2")
    eager = load_vlm(f"hf:{llava_dir}", attn_implementation="eager")
    assert eager.model.config._attn_implementation == "eager"


class _SplitTokenizer:
    """A stand-in for SentencePiece: one id per space-separated piece, so a leading space costs a token."""

    vocab: dict[str, int]

    def __init__(self) -> None:
        self.vocab = {}

    def __call__(self, text: str, add_special_tokens: bool = False) -> dict[str, list[int]]:
        return {"input_ids": [self.vocab.setdefault(p, len(self.vocab)) for p in text.split(" ")]}


def test_continuation_ids_follow_the_context() -> None:
    vlm = HFGenerativeVLM.__new__(HFGenerativeVLM)
    vlm.tokenizer = tok = _SplitTokenizer()
    alone = vlm.continuation_ids([" cat", " big dog"])
    assert alone == [[tok.vocab[""], tok.vocab["cat"]], [tok.vocab[""], tok.vocab["big"], tok.vocab["dog"]]]
    in_context = vlm.continuation_ids([" cat", " big dog"], context="ASSISTANT:")
    assert in_context == [[tok.vocab["cat"]], [tok.vocab["big"], tok.vocab["dog"]]]  # no spurious word-start
    # the boundary merges ("ASSISTANT:x" is one piece): fall back to the continuation alone
    assert vlm.continuation_ids(["x"], context="ASSISTANT:") == [[tok.vocab["x"]]]
