"""Loading weights: safetensors round trip, torch checkpoints, HF-cache tags, clear errors offline."""

from __future__ import annotations

import collections
from pathlib import Path

import open_clip
import pytest
import torch
from open_clip.pretrained import _PRETRAINED, _slpcfg
from safetensors import safe_open

from vlmrobust.models.checkpoints import WeightsNotCachedError, load_state_dict_file, save_state_dict_file
from vlmrobust.models.openclip import OpenClipScorer
from vlmrobust.models.registry import load_scorer

from .conftest import TINY

IMAGES = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
TEXTS = ["a red square", "two blue circles above a triangle"]


def _outputs(scorer: OpenClipScorer) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return scorer.encode_image(IMAGES), scorer.encode_text(TEXTS)


def _assert_same_outputs(a: OpenClipScorer, b: OpenClipScorer) -> None:
    for x, y in zip(_outputs(a), _outputs(b), strict=True):
        assert torch.equal(x, y)


def test_save_load_round_trip(tiny: OpenClipScorer, tmp_path: Path) -> None:
    path = tiny.save(tmp_path / "sub" / "tiny.safetensors")
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.safetensors"]  # no temporary left behind
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["vlmrobust_spec"] == TINY
    reloaded = load_scorer(f"{TINY}@{path}", seed=123)  # another init, overwritten by the checkpoint
    assert reloaded.spec == f"{TINY}@{path}"
    assert not torch.equal(
        load_scorer(TINY, seed=123).model.visual.conv1.weight, tiny.model.visual.conv1.weight
    )
    _assert_same_outputs(tiny, reloaded)
    with pytest.raises(ValueError, match=r"must end in \.safetensors"):
        tiny.save(tmp_path / "tiny.pt")


def test_torch_checkpoint_nested_with_module_prefix(tiny: OpenClipScorer, tmp_path: Path) -> None:
    ddp_state = collections.OrderedDict((f"module.{k}", v) for k, v in tiny.model.state_dict().items())
    path = tmp_path / "epoch_3.pt"
    torch.save({"epoch": 3, "state_dict": ddp_state}, path)
    _assert_same_outputs(tiny, load_scorer(f"{TINY}@{path}", seed=5))


class _Payload:
    """Not on torch's weights_only allow-list: unpickling it must be refused."""


def test_torch_checkpoint_loaded_with_weights_only(tiny: OpenClipScorer, tmp_path: Path) -> None:
    path = tmp_path / "unsafe.pth"
    torch.save({"state_dict": tiny.model.state_dict(), "extra": _Payload()}, path)
    with pytest.raises(ValueError, match="weights_only=True") as err:
        load_scorer(f"{TINY}@{path}")
    assert str(path) in str(err.value)


def test_checkpoint_that_does_not_fit_names_file_and_keys(tiny: OpenClipScorer, tmp_path: Path) -> None:
    state = dict(tiny.model.state_dict())
    del state["text_projection"]
    state["extra.weight"] = torch.zeros(1)
    path = save_state_dict_file(state, tmp_path / "broken.safetensors")
    with pytest.raises(ValueError, match="does not fit") as err:
        load_scorer(f"{TINY}@{path}")
    assert (
        str(path) in str(err.value)
        and "text_projection" in str(err.value)
        and "extra.weight" in str(err.value)
    )


def test_load_state_dict_file_rules(tmp_path: Path) -> None:
    # the "module." prefix is stripped only when every key carries it
    mixed = {"module.a": torch.ones(1), "b": torch.zeros(1)}
    torch.save(mixed, tmp_path / "mixed.bin")
    assert sorted(load_state_dict_file(tmp_path / "mixed.bin")) == ["b", "module.a"]
    torch.save({"a": torch.ones(1), "note": "text"}, tmp_path / "nontensor.pt")
    with pytest.raises(ValueError, match="not tensors: \\['note'\\]"):
        load_state_dict_file(tmp_path / "nontensor.pt")
    (tmp_path / "weights.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"unsupported checkpoint suffix '\.npz'"):
        load_state_dict_file(tmp_path / "weights.npz")


def test_missing_checkpoint_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "last.safetensors"
    with pytest.raises(FileNotFoundError, match="checkpoint file not found") as err:
        load_scorer(f"{TINY}@{missing}")
    assert str(missing) in str(err.value)


def test_unknown_tag_suggests_tags() -> None:
    with pytest.raises(ValueError, match="neither an open_clip pretrained tag") as err:
        load_scorer("open_clip:ViT-B-32@laion2b_s34b_b79")
    assert "Did you mean 'laion2b_s34b_b79k'" in str(err.value)


def test_uncached_tag_offline_says_what_to_download(tmp_path: Path) -> None:
    cache = tmp_path / "empty-cache"
    with pytest.raises(WeightsNotCachedError) as err:
        load_scorer("open_clip:ViT-B-32@laion2b_s34b_b79k", cache_dir=cache)
    message = str(err.value)
    assert "HF_HUB_OFFLINE=1" in message
    assert (
        f"hf download laion/CLIP-ViT-B-32-laion2B-s34B-b79K open_clip_pytorch_model.bin --cache-dir {cache}"
        in message
    )
    assert isinstance(err.value, FileNotFoundError)


def test_cached_tag_loads_from_hf_cache(
    tiny: OpenClipScorer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tag resolves through a Hugging Face cache laid out as huggingface_hub writes it, with no network."""
    tags = {"fake": _slpcfg(hf_hub="vlmrobust-test/tiny-clip/", quick_gelu=True)}
    monkeypatch.setitem(_PRETRAINED, "vlmrobust-tiny-clip", tags)
    repo = tmp_path / "hub" / "models--vlmrobust-test--tiny-clip"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abc")
    tiny.save(repo / "snapshots" / "0123abc" / "open_clip_model.safetensors")

    scorer = load_scorer(f"{TINY}@fake", cache_dir=tmp_path / "hub")
    # tag's preprocessing (SigLIP mean/std 0.5) and activation (QuickGELU) are applied
    normalize = scorer.preprocess.transforms[-1]
    assert tuple(normalize.mean) == (0.5, 0.5, 0.5) and tuple(normalize.std) == (0.5, 0.5, 0.5)
    assert any(isinstance(m, open_clip.transformer.QuickGELU) for m in scorer.model.modules())
    with torch.no_grad():
        assert scorer.encode_image(IMAGES).shape == (3, 64)
    for name, tensor in tiny.model.state_dict().items():
        assert torch.equal(scorer.model.state_dict()[name], tensor), name
