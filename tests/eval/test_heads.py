"""Zero-shot heads are the normalised mean of normalised prompt embeddings (computed by hand here)."""

import pytest
import torch

from vlmrobust.eval.heads import build_zero_shot_head, zero_shot_logits
from vlmrobust.models.registry import load_scorer


@pytest.fixture(scope="module")
def scorer():
    return load_scorer("open_clip:vlmrobust-tiny-clip", seed=0).eval()


def test_head_is_prompt_ensemble(scorer):
    classes, templates = ["circle", "star", "hexagon"], ["a photo of a {}.", "a drawing of a {}."]
    head = build_zero_shot_head(scorer, classes, templates, batch_size=4)
    with torch.no_grad():
        for c, name in enumerate(classes):
            emb = torch.stack([scorer.encode_text([t.format(name)], normalize=True)[0] for t in templates])
            expected = emb.mean(0) / emb.mean(0).norm()
            torch.testing.assert_close(head[c], expected, rtol=1e-5, atol=1e-6)


def test_logits_are_scaled_cosines(scorer):
    head = build_zero_shot_head(scorer, ["circle", "star"], ["a {}"])
    images = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        logits = zero_shot_logits(scorer, images, head)
        feats = scorer.encode_image(images, normalize=False)
        cos = torch.nn.functional.normalize(feats, dim=-1) @ head.T
    torch.testing.assert_close(logits, scorer.logit_scale * cos, rtol=1e-5, atol=1e-5)


def test_template_without_placeholder_fails(scorer):
    with pytest.raises(ValueError, match="placeholder"):
        build_zero_shot_head(scorer, ["circle"], ["a photo"])


def test_cached_head_is_written_once_and_read_back(scorer, tmp_path):
    from safetensors.torch import load_file, save_file

    from vlmrobust.eval.heads import cached_zero_shot_head, head_cache_key

    classes, templates = ["circle", "star"], ["a {}", "the {}"]
    head = cached_zero_shot_head(scorer, classes, templates, tmp_path)
    torch.testing.assert_close(head, build_zero_shot_head(scorer, classes, templates))
    (file,) = tmp_path.glob("*.safetensors")
    assert file.stem == head_cache_key(scorer.spec, classes, templates)
    save_file({"head": torch.zeros_like(load_file(str(file))["head"])}, str(file))  # mark the cached copy
    assert (
        cached_zero_shot_head(scorer, classes, templates, tmp_path).abs().sum() == 0
    )  # read, not recomputed
    assert head_cache_key(scorer.spec, classes, ["a {}"]) != file.stem
    assert head_cache_key(scorer.spec, ["star", "circle"], templates) != file.stem
    assert head_cache_key("open_clip:other", classes, templates) != file.stem
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
