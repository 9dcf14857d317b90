"""timm feature extractors (tiny random-init ViT and CNN) and the feature/embedder loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vlmrobust.models.checkpoints import WeightsNotCachedError
from vlmrobust.models.embedding import HFEmbeddingModel, HFVLMFeatureExtractor
from vlmrobust.models.protocols import FeatureExtractor
from vlmrobust.models.registry import load_embedder, load_feature_extractor

TINY_VIT = {"img_size": 32, "patch_size": 8, "depth": 2, "embed_dim": 64, "num_heads": 2}


def _load(pooling: str, layer: int = -1, seed: int = 0):
    return load_feature_extractor(
        "timm:vit_tiny_patch16_224", pooling, layer, pretrained=False, seed=seed, timm_kwargs=TINY_VIT
    )


@torch.no_grad()
def test_vit_cls_and_mean_patch_by_hand() -> None:
    cls, mean = _load("cls"), _load("mean_patch")
    assert isinstance(cls, FeatureExtractor)
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    tokens = cls.model.forward_features(x)  # [3, 1 + 16, 64], final norm applied
    assert tokens.shape == (3, 17, 64)
    torch.testing.assert_close(cls(x), tokens[:, 0])
    torch.testing.assert_close(mean(x), tokens[:, 1:].mean(1))
    # an intermediate block: run the blocks by hand
    h = cls.model.patch_embed(x)
    h = cls.model._pos_embed(h)
    h = cls.model.norm_pre(h)
    h0 = cls.model.blocks[0](h)
    torch.testing.assert_close(_load("cls", layer=0)(x), h0[:, 0])
    torch.testing.assert_close(_load("mean_patch", layer=0)(x), h0[:, 1:].mean(1))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8))
    assert cls.preprocess(image).shape == (3, 32, 32)
    assert cls([image, image]).shape == (2, 64)


def test_seeded_init_and_errors() -> None:
    a, b = _load("cls", seed=1), _load("cls", seed=1)
    assert torch.equal(a.model.patch_embed.proj.weight, b.model.patch_embed.proj.weight)
    with pytest.raises(ValueError, match="Did you mean 'vit_tiny_patch16_224'"):
        load_feature_extractor("timm:vit_tiny_patch16_22", pretrained=False)
    with pytest.raises(ValueError, match="token poolings"):
        _load("last_token")
    with pytest.raises(WeightsNotCachedError, match="pretrained=False"):
        load_feature_extractor("timm:resnet18", "mean_patch")  # offline, not cached
    with pytest.raises(ValueError, match="encode_image"):
        load_feature_extractor("open_clip:vlmrobust-tiny-clip")


@torch.no_grad()
def test_cnn_mean_patch_is_spatial_mean() -> None:
    cnn = load_feature_extractor("timm:resnet18", "mean_patch", pretrained=False, seed=0)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(cnn(x), cnn.model.forward_features(x).mean((2, 3)))
    with pytest.raises(ValueError, match="no class token"):
        load_feature_extractor("timm:resnet18", "cls", pretrained=False)


def test_hf_loaders(tiny_vlm_dirs) -> None:
    path = f"hf:{tiny_vlm_dirs['llava']}"
    embedder = load_embedder(path, normalize=False, layer=-2)
    assert isinstance(embedder, HFEmbeddingModel) and embedder.layer == -2 and not embedder.normalize
    extractor = load_feature_extractor(path, "mean_token", layer=1)
    assert isinstance(extractor, HFVLMFeatureExtractor) and extractor.layer == 1
