"""Spec strings: parsing, canonical form, did-you-mean errors."""

from __future__ import annotations

import pytest

from vlmrobust.models.spec import ModelSpec, parse_spec


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("open_clip:vlmrobust-tiny-clip", ModelSpec("open_clip", "vlmrobust-tiny-clip", None)),
        ("open_clip:ViT-B-32@laion2b_s34b_b79k", ModelSpec("open_clip", "ViT-B-32", "laion2b_s34b_b79k")),
        ("open_clip:ViT-B/32@openai", ModelSpec("open_clip", "ViT-B-32", "openai")),
        # only the first "@" separates: paths may contain "@"
        ("open_clip:RN50@/ckpt/run@3/last.pt", ModelSpec("open_clip", "RN50", "/ckpt/run@3/last.pt")),
        ("hf:openai/clip-vit-base-patch32", ModelSpec("hf", "openai/clip-vit-base-patch32", None)),
        ("hf:/models/llava@v1", ModelSpec("hf", "/models/llava@v1", None)),
        (
            "timm:vit_small_patch16_224.augreg_in21k",
            ModelSpec("timm", "vit_small_patch16_224.augreg_in21k", None),
        ),
    ],
)
def test_parse_spec(text: str, expected: ModelSpec) -> None:
    assert parse_spec(text) == expected


def test_str_is_canonical_and_round_trips() -> None:
    spec = parse_spec("open_clip:ViT-B/32@openai")
    assert str(spec) == "open_clip:ViT-B-32@openai"
    assert parse_spec(str(spec)) == spec
    assert str(parse_spec("open_clip:vlmrobust-tiny-clip")) == "open_clip:vlmrobust-tiny-clip"


def test_unknown_backend_suggests() -> None:
    with pytest.raises(ValueError, match="unknown model backend 'open-clip'") as err:
        parse_spec("open-clip:ViT-B-32")
    assert "Did you mean 'open_clip'" in str(err.value)
    assert "Valid backends: hf, open_clip, timm." in str(err.value)


def test_missing_prefix_lists_backends() -> None:
    with pytest.raises(ValueError, match="no backend prefix") as err:
        parse_spec("ViT-B-32")
    assert "open_clip, hf, timm" in str(err.value)


def test_unknown_arch_suggests() -> None:
    with pytest.raises(ValueError, match="unknown open_clip architecture 'vlmrobust-tiny-clp'") as err:
        parse_spec("open_clip:vlmrobust-tiny-clp@x.pt")
    message = str(err.value)
    assert "Did you mean 'vlmrobust-tiny-clip'" in message
    assert "ViT-B-32" in message  # the full list of valid architectures follows


@pytest.mark.parametrize("text", ["open_clip:vlmrobust-tiny-clip@", "hf:", "timm:"])
def test_empty_parts_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=r"empty pretrained|names no model"):
        parse_spec(text)


def test_package_exports_are_lazy_and_real() -> None:
    import vlmrobust.models as models
    from vlmrobust.models import registry, spec

    assert models.load_scorer is registry.load_scorer and models.parse_spec is spec.parse_spec
    with pytest.raises(AttributeError, match="no attribute 'load_model'"):
        _ = models.load_model
