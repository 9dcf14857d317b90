"""The open_clip scorer: build offline, shapes, similarity, ClipLoss, seeding, dtype."""

from __future__ import annotations

import math

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from vlmrobust.models.openclip import OpenClipScorer
from vlmrobust.models.protocols import ImageTextScorer
from vlmrobust.models.registry import load_scorer

from .conftest import TINY, TINY_SIGMOID

CAPTIONS = ["a red square", "a blue circle to the left of a green triangle", "a photo of a dog"]


def _images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_tiny_builds_offline_and_follows_protocol(tiny: OpenClipScorer) -> None:
    assert isinstance(tiny, ImageTextScorer)
    assert tiny.spec == TINY
    assert tiny.context_length == 32
    assert not tiny.training  # loaded in eval mode
    assert tiny.model.visual.image_size == (32, 32)
    assert tiny.model.visual.transformer.resblocks[0].attn.num_heads == 2
    assert tiny.model.transformer.resblocks[0].attn.num_heads == 2
    assert len(tiny.model.visual.transformer.resblocks) == len(tiny.model.transformer.resblocks) == 2
    assert tiny.model.token_embedding.num_embeddings == 49408


def test_preprocess_outputs_32px(tiny: OpenClipScorer) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    image = Image.fromarray(rgb)
    for transform in (tiny.preprocess, tiny.preprocess_train):
        out = transform(image)
        assert out.shape == (3, 32, 32)
        assert out.dtype == torch.float32
    # grayscale input is converted to RGB
    assert tiny.preprocess(image.convert("L")).shape == (3, 32, 32)


def test_tokenize_truncates_to_context(tiny: OpenClipScorer) -> None:
    tokens = tiny.tokenize(["word " * 100, "a cat"])
    assert tokens.shape == (2, 32) and tokens.dtype == torch.long
    eot = tiny.tokenizer.eot_token_id
    assert tokens[0, -1] == eot  # truncated caption still ends with end-of-text
    assert (tokens[1] == eot).nonzero().item() == 3  # <sot> a cat <eot>
    with pytest.raises(TypeError, match="single str"):
        tiny.tokenize("a cat")


def test_encode_shapes_and_norms(tiny: OpenClipScorer) -> None:
    with torch.no_grad():
        img = tiny.encode_image(_images(4))
        txt = tiny.encode_text(CAPTIONS)
        txt_from_ids = tiny.encode_text(tiny.tokenize(CAPTIONS))
        raw = tiny.encode_image(_images(4), normalize=False)
    assert img.shape == (4, 64) and txt.shape == (3, 64)
    torch.testing.assert_close(img.norm(dim=-1), torch.ones(4))
    torch.testing.assert_close(txt.norm(dim=-1), torch.ones(3))
    assert torch.equal(txt, txt_from_ids)
    torch.testing.assert_close(F.normalize(raw, dim=-1), img)


def test_similarity_is_scale_times_cosine(tiny: OpenClipScorer) -> None:
    assert tiny.logit_bias is None
    torch.testing.assert_close(tiny.logit_scale, torch.tensor(1 / 0.07))  # open_clip's init: log(1/0.07)
    with torch.no_grad():
        img = tiny.encode_image(_images(4), normalize=False)
        txt = tiny.encode_text(CAPTIONS, normalize=False)
        logits = tiny.similarity(img, txt)
    assert logits.shape == (4, 3)
    for b in range(4):
        for t in range(3):
            f, g = img[b].double(), txt[t].double()
            expected = (1 / 0.07) * float(f @ g) / math.sqrt(float(f @ f) * float(g @ g))
            assert logits[b, t].item() == pytest.approx(expected, rel=1e-5)


def test_sigmoid_variant_adds_bias() -> None:
    scorer = load_scorer(TINY_SIGMOID, seed=0)
    torch.testing.assert_close(scorer.logit_scale, torch.tensor(10.0))
    torch.testing.assert_close(scorer.logit_bias, torch.tensor(-10.0))
    with torch.no_grad():
        img, txt = scorer.encode_image(_images(2)), scorer.encode_text(CAPTIONS)
        out = scorer(_images(2), scorer.tokenize(CAPTIONS[:2]))
    torch.testing.assert_close(scorer.similarity(img, txt), 10.0 * img @ txt.T - 10.0)
    assert len(out) == 4  # image_features, text_features, logit_scale, logit_bias
    loss = open_clip.loss.SigLipLoss()(*out)
    assert torch.isfinite(loss)


def test_clip_loss_forward_backward() -> None:
    scorer = load_scorer(TINY, seed=1).train()
    images, tokens = _images(8), scorer.tokenize([f"caption number {i}" for i in range(8)])
    image_features, text_features, logit_scale = scorer(images, tokens)
    loss = open_clip.ClipLoss()(image_features, text_features, logit_scale)
    # the same loss by hand from `similarity`: symmetric cross-entropy against the diagonal
    logits = scorer.similarity(image_features, text_features)
    target = torch.arange(8)
    expected = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    torch.testing.assert_close(loss, expected)
    loss.backward()
    for name in ("logit_scale", "visual.conv1.weight", "token_embedding.weight", "text_projection"):
        grad = scorer.model.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0, name


def test_seed_is_deterministic_and_leaves_global_rng() -> None:
    state = torch.get_rng_state()
    a, b, c = (load_scorer(TINY, seed=s) for s in (3, 3, 4))
    assert torch.equal(torch.get_rng_state(), state)
    pa, pb, pc = (m.model.visual.conv1.weight for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    # without a seed, the global RNG drives the init (and advances)
    torch.manual_seed(7)
    d, e = load_scorer(TINY), load_scorer(TINY)
    torch.manual_seed(7)
    f = load_scorer(TINY)
    pd, pe, pf = (m.model.visual.conv1.weight for m in (d, e, f))
    assert torch.equal(pd, pf) and not torch.equal(pd, pe)


def test_dtype_argument() -> None:
    scorer = load_scorer(TINY, dtype=torch.bfloat16, seed=0)
    assert {p.dtype for p in scorer.parameters()} == {torch.bfloat16}
    with torch.no_grad():
        assert scorer.encode_image(_images(2)).dtype == torch.bfloat16  # float32 input is cast
    with pytest.raises(ValueError, match="floating dtype"):
        load_scorer(TINY, dtype=torch.int64)


def test_timm_is_not_a_scorer() -> None:
    with pytest.raises(ValueError, match="cannot score image-text pairs"):
        load_scorer("timm:resnet18")


@pytest.mark.parametrize(
    "text_kwargs",
    [
        {},  # CLIP: causal text tower, argmax pooling
        {"force_custom_text": True},  # CustomTextCLIP with a causal TextTransformer (full context)
        {"force_custom_text": True, "text_cfg": {"no_causal_mask": True, "pool_type": "last"}},  # SigLIP-like
        {"text_cfg": {"pool_type": "eos", "eos_id": 49407}},  # CLIP pooled at the first eos token
        {
            "text_cfg": {"no_causal_mask": True, "pool_type": "last"}
        },  # bidirectional CLIP tower (full context)
    ],
    ids=["clip", "custom-causal", "custom-bidirectional-last", "clip-eos", "clip-bidirectional-last"],
)
def test_encode_text_equals_open_clip_full_context(text_kwargs: dict) -> None:
    """Dropping trailing padding (when the tower allows it) gives open_clip's own full-context features."""
    cfg = dict(open_clip.get_model_config("vlmrobust-tiny-clip"))
    cfg["text_cfg"] = {**cfg["text_cfg"], **text_kwargs.pop("text_cfg", {})}
    torch.manual_seed(0)
    custom = text_kwargs.pop("force_custom_text", False)
    model = open_clip.model.CustomTextCLIP(**cfg) if custom else open_clip.model.CLIP(**cfg)
    model.eval()
    tokenizer = open_clip.get_tokenizer("vlmrobust-tiny-clip")
    scorer = OpenClipScorer(model, tokenizer, lambda im: im, lambda im: im, TINY)
    tokens = tokenizer(CAPTIONS)
    assert int((tokens != 0).sum(1).max()) < tokens.shape[1]  # there is padding to drop
    with torch.no_grad():
        expected = model.encode_text(tokens, normalize=True)
        torch.testing.assert_close(scorer.encode_text(CAPTIONS), expected, rtol=0, atol=1e-5)
        torch.testing.assert_close(scorer.encode_text(tokens, normalize=False),
                                   model.encode_text(tokens, normalize=False), rtol=0, atol=1e-5)  # fmt: skip
        assert scorer.encode_text(tokens[:0]).shape == (0, 64)
