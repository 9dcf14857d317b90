"""Hugging Face CLIP scorer: a tiny directory loaded via from_pretrained; parity with open_clip."""

from __future__ import annotations

import math

import numpy as np
import open_clip
import pytest
import torch
from PIL import Image

from vlmrobust.models.checkpoints import WeightsNotCachedError
from vlmrobust.models.hf_clip import HFClipScorer
from vlmrobust.models.protocols import ImageTextScorer
from vlmrobust.models.registry import load_scorer
from vlmrobust.models.tiny_hf import write_tiny_hf_clip

from .conftest import TINY

CAPTIONS = ["a red square", "a blue circle to the left of a green triangle", "a photo of a dog"]


@pytest.fixture(scope="module")
def hf_tiny(tmp_path_factory: pytest.TempPathFactory) -> HFClipScorer:
    return load_scorer(f"hf:{write_tiny_hf_clip(tmp_path_factory.mktemp('hf-clip'), seed=0)}")


def _images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_parity_with_open_clip_given_identical_weights(tmp_path) -> None:
    oc = load_scorer(TINY, seed=0)
    with torch.no_grad():  # a non-default scale, so that a dropped or misplaced logit_scale shows
        oc.model.logit_scale.fill_(math.log(20.0))
    hf = load_scorer(f"hf:{write_tiny_hf_clip(tmp_path / 'converted', model=oc.model)}")
    assert type(hf.model).__name__ == "CLIPModel"
    tokens = oc.tokenize(CAPTIONS)  # both towers read the same open_clip token ids
    with torch.no_grad():
        oc_img, hf_img = oc.encode_image(_images(4)), hf.encode_image(_images(4))
        oc_txt, hf_txt = oc.encode_text(tokens), hf.encode_text(tokens)
        oc_logits, hf_logits = oc.similarity(oc_img, oc_txt), hf.similarity(hf_img, hf_txt)
    torch.testing.assert_close(hf_img, oc_img, atol=1e-5, rtol=0)
    torch.testing.assert_close(hf_txt, oc_txt, atol=1e-5, rtol=0)
    torch.testing.assert_close(hf.logit_scale, torch.tensor(20.0))
    torch.testing.assert_close(hf_logits, oc_logits, atol=1e-4, rtol=0)
    assert hf_logits.std() > 0.1  # not a degenerate constant


def test_follows_protocol_and_shapes(hf_tiny: HFClipScorer) -> None:
    assert isinstance(hf_tiny, ImageTextScorer)
    assert hf_tiny.context_length == 32 and not hf_tiny.training
    tokens = hf_tiny.tokenize([*CAPTIONS, "word " * 100])
    assert tokens.shape == (4, 32) and tokens.dtype == torch.long
    eos, bos = hf_tiny.tokenizer.eos_token_id, hf_tiny.tokenizer.bos_token_id
    assert (tokens[:, 0] == bos).all()
    assert tokens[3, -1] == eos  # a truncated caption still ends with eos
    with pytest.raises(TypeError, match="single str"):
        hf_tiny.tokenize("a cat")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    assert hf_tiny.preprocess(image).shape == (3, 32, 32)
    assert hf_tiny.preprocess_train(image.convert("L")).shape == (3, 32, 32)


def test_similarity_is_scale_times_cosine_and_trains(hf_tiny: HFClipScorer) -> None:
    assert hf_tiny.logit_bias is None
    with torch.no_grad():
        img = hf_tiny.encode_image(_images(2), normalize=False)
        txt = hf_tiny.encode_text(CAPTIONS, normalize=False)
        logits = hf_tiny.similarity(img, txt)
        unit = hf_tiny.encode_text(CAPTIONS)
    torch.testing.assert_close(unit.norm(dim=-1), torch.ones(3))
    scale = float(hf_tiny.logit_scale.detach())
    for b in range(2):
        for t in range(3):
            f, g = img[b].double(), txt[t].double()
            expected = scale * float(f @ g) / math.sqrt(float(f @ f) * float(g @ g))
            assert logits[b, t].item() == pytest.approx(expected, rel=1e-5)
    out = hf_tiny(_images(3), CAPTIONS)
    loss = open_clip.ClipLoss()(*out)
    loss.backward()
    grad = hf_tiny.model.logit_scale.grad
    assert grad is not None and grad.abs() > 0
    hf_tiny.model.zero_grad()


def test_save_reloads_exactly(hf_tiny: HFClipScorer, tmp_path) -> None:
    again = load_scorer(f"hf:{hf_tiny.save(tmp_path / 'saved')}")
    with torch.no_grad():
        torch.testing.assert_close(again.encode_text(CAPTIONS), hf_tiny.encode_text(CAPTIONS), atol=0, rtol=0)
        torch.testing.assert_close(
            again.encode_image(_images(2)), hf_tiny.encode_image(_images(2)), atol=0, rtol=0
        )


def test_bad_hf_scorer_specs(tmp_path, tiny_vlm_dirs) -> None:
    with pytest.raises(FileNotFoundError, match="model directory not found"):
        load_scorer(f"hf:{tmp_path}/missing")
    with pytest.raises(WeightsNotCachedError, match="hf download"):
        load_scorer("hf:openai/clip-vit-base-patch32")
    with pytest.raises(ValueError, match=r"not a CLIP-style dual encoder.*load_vlm"):
        load_scorer(f"hf:{tiny_vlm_dirs['llava']}")


def test_repo_id_loads_offline_from_hf_cache(hf_tiny: HFClipScorer, tmp_path) -> None:
    # The Hugging Face cache layout: models--<org>--<name>/{refs/main, snapshots/<commit>/<files>}.
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--vlmrobust-test--tiny-clip"
    hf_tiny.save(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    cached = load_scorer("hf:vlmrobust-test/tiny-clip", cache_dir=tmp_path / "hub")
    assert cached.spec == "hf:vlmrobust-test/tiny-clip"
    with torch.no_grad():
        torch.testing.assert_close(
            cached.encode_text(CAPTIONS), hf_tiny.encode_text(CAPTIONS), atol=0, rtol=0
        )
    with pytest.raises(WeightsNotCachedError, match="vlmrobust-test/other"):
        load_scorer("hf:vlmrobust-test/other", cache_dir=tmp_path / "hub")


def test_siglip_scorer_adds_bias(tmp_path) -> None:
    scorer = load_scorer(f"hf:{write_tiny_hf_clip(tmp_path / 'siglip', family='siglip')}")
    assert type(scorer.model).__name__ == "SiglipModel"
    torch.testing.assert_close(scorer.logit_scale.detach(), torch.tensor(10.0))
    torch.testing.assert_close(scorer.logit_bias.detach(), torch.tensor(-10.0))
    with torch.no_grad():
        img, txt = scorer.encode_image(_images(2)), scorer.encode_text(CAPTIONS)
        out = scorer(_images(2), CAPTIONS[:2])
    torch.testing.assert_close(scorer.similarity(img, txt), 10.0 * img @ txt.T - 10.0)
    assert len(out) == 4 and torch.isfinite(open_clip.loss.SigLipLoss()(*out))
