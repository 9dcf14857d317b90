"""Pooling golden values, VLM2Vec-style embeddings (left/right padding) and probe features on tiny VLMs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vlmrobust.models.embedding import HFEmbeddingModel, HFVLMFeatureExtractor
from vlmrobust.models.pooling import last_token_pool, mean_token_pool, pool
from vlmrobust.models.protocols import EmbeddingModel, FeatureExtractor

TEXTS = ["a", "a much longer question about the shapes in it"]


def _images(n: int = 2) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)) for _ in range(n)]


def test_pooling_golden_values() -> None:
    hidden = torch.arange(2 * 4 * 1, dtype=torch.float32).reshape(2, 4, 1)  # rows [0,1,2,3], [4,5,6,7]
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    assert last_token_pool(hidden, right)[:, 0].tolist() == [1.0, 7.0]
    assert last_token_pool(hidden, left)[:, 0].tolist() == [3.0, 7.0]
    assert mean_token_pool(hidden, right)[:, 0].tolist() == [0.5, 5.5]
    assert mean_token_pool(hidden, left)[:, 0].tolist() == [2.5, 6.0]
    assert pool(hidden, "cls")[:, 0].tolist() == [0.0, 4.0]
    assert pool(hidden, "mean_patch")[:, 0].tolist() == [2.0, 6.0]
    assert pool(hidden, "last_token")[:, 0].tolist() == [3.0, 7.0]
    with pytest.raises(ValueError, match="without any real token"):
        last_token_pool(hidden, torch.tensor([[0, 0, 0, 0], [1, 1, 1, 1]]))
    with pytest.raises(ValueError, match="Did you mean 'last_token'"):
        pool(hidden, "last-token")  # type: ignore[arg-type]


@torch.no_grad()
def test_embeddings_same_for_left_and_right_padding(family, tiny_vlms) -> None:
    vlm = tiny_vlms[family]
    embedder = HFEmbeddingModel(vlm)
    assert isinstance(embedder, EmbeddingModel)
    images = _images()
    side = vlm.tokenizer.padding_side
    try:
        vlm.tokenizer.padding_side = "left"
        left = embedder.embed_queries(TEXTS, images)
        formatted = [embedder._format(embedder.query_template, t, True) for t in TEXTS]
        _, mask = embedder.token_states(formatted, images)
        assert mask[0, 0] == 0 and mask[0, -1] == 1  # really left-padded
        vlm.tokenizer.padding_side = "right"
        right = embedder.embed_queries(TEXTS, images)
        alone = torch.cat([embedder.embed_queries(TEXTS[i : i + 1], images[i : i + 1]) for i in range(2)])
    finally:
        vlm.tokenizer.padding_side = side
    torch.testing.assert_close(left, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(right, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(left.norm(dim=-1), torch.ones(2))
    assert (left[0] - left[1]).abs().max() > 1e-3  # different inputs, different embeddings


@torch.no_grad()
def test_templates_layer_and_normalisation(tiny_vlms) -> None:
    vlm = tiny_vlms["llava"]
    raw = HFEmbeddingModel(vlm, normalize=False)
    unit = HFEmbeddingModel(vlm)
    assert raw._format(raw.query_template, "q?", True) == (
        "<image>\nRepresent the given image with the following question: q?"
    )
    assert raw._format(raw.target_template, "a cat", False) == "a cat"
    targets = raw.embed_targets(TEXTS)
    torch.testing.assert_close(unit.embed_targets(TEXTS), targets / targets.norm(dim=-1, keepdim=True))
    assert (raw.embed_queries(TEXTS) - targets).abs().max() > 1e-3  # the query instruction matters
    # a chosen layer: states of the embedding layer are the token embeddings of the last real token
    first = HFEmbeddingModel(vlm, normalize=False, layer=0).embed_targets(["a cat"])
    last_id = vlm.tokenizer("a cat")["input_ids"][-1]
    torch.testing.assert_close(first[0], vlm.model.get_input_embeddings().weight[last_id])
    with pytest.raises(ValueError, match="no '\\{text\\}' field"):
        HFEmbeddingModel(vlm, query_template="{image}")


@torch.no_grad()
def test_feature_extractor_poolings(tiny_vlms) -> None:
    vlm = tiny_vlms["llava"]
    images = _images(3)
    for pooling in ("cls", "mean_patch", "last_token", "mean_token"):
        extractor = HFVLMFeatureExtractor(vlm, pooling=pooling)
        assert isinstance(extractor, FeatureExtractor)
        feats = extractor(images)
        assert feats.shape == (3, 64) and feats.dtype == torch.float32
        assert torch.isfinite(feats).all()
    # cls at the vision tower's last layer, by hand
    pixels = vlm.processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    states = vlm.model.model.vision_tower(pixels, output_hidden_states=True).hidden_states
    torch.testing.assert_close(HFVLMFeatureExtractor(vlm, "cls")(images), states[-1][:, 0])
    torch.testing.assert_close(
        HFVLMFeatureExtractor(vlm, "mean_patch", layer=1)(images), states[1][:, 1:].mean(1)
    )
    with pytest.raises(ValueError, match="class token"):
        HFVLMFeatureExtractor(tiny_vlms["qwen2_vl"], "cls")(images)
