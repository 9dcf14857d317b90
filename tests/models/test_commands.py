"""`vlmrobust list models` and `list_models`."""

from __future__ import annotations

import pytest

from vlmrobust.core import cli
from vlmrobust.models.commands import list_main
from vlmrobust.models.registry import list_models


def _fake_hf_cache(root) -> str:
    """A Hugging Face cache holding one model repo (refs/main + an empty snapshot) and one dataset repo."""
    commit = "0" * 40
    for kind, name in (("models", "org--tiny-vlm"), ("datasets", "org--data")):
        repo = root / f"{kind}--{name}"
        (repo / "snapshots" / commit).mkdir(parents=True)
        (repo / "snapshots" / commit / "config.json").write_text("{}")
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(commit)
    return str(root)


def test_list_models_registry(tmp_path) -> None:
    specs = list_models(cache_dir=tmp_path / "no-cache")
    assert specs[:2] == ["open_clip:vlmrobust-tiny-clip", "open_clip:vlmrobust-tiny-sigmoid-clip"]
    assert "open_clip:ViT-B-32" in specs and "open_clip:ViT-B-32@laion2b_s34b_b79k" in specs
    assert len(specs) == len(set(specs))
    assert list_models("hf", cache_dir=tmp_path / "no-cache") == []
    assert list_models("hf", cache_dir=_fake_hf_cache(tmp_path / "hub")) == ["hf:org/tiny-vlm"]
    assert "timm:vit_tiny_patch16_224" in list_models("timm")
    with pytest.raises(ValueError, match="Did you mean 'open_clip'"):
        list_models("openclip")  # type: ignore[arg-type]


def test_list_main_filter(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    assert list_main(["models", "--filter", "TINY-CLIP"]) == 0
    assert capsys.readouterr().out.splitlines() == ["# open_clip (1)", "open_clip:vlmrobust-tiny-clip"]
    assert list_main(["models", "--backend", "hf", "--cache-dir", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no hf models match" in captured.err
    assert list_main(["models", "--backend", "hf", "--cache-dir", _fake_hf_cache(tmp_path / "hub")]) == 0
    assert capsys.readouterr().out.splitlines() == ["# hf (1)", "hf:org/tiny-vlm"]


def test_available_lists_only_what_loads_offline(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    from open_clip.pretrained import get_pretrained_cfg

    repo_id = get_pretrained_cfg("ViT-B-32", "openai")["hf_hub"].rstrip("/")
    commit = "1" * 40
    repo = tmp_path / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "open_clip_model.safetensors").write_bytes(b"")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    specs = list_models("open_clip", cache_dir=tmp_path / "hub", available=True)
    cached = [s for s in specs if "@" in s]
    assert specs[:2] == ["open_clip:vlmrobust-tiny-clip", "open_clip:vlmrobust-tiny-sigmoid-clip"]
    assert "open_clip:ViT-B-32@openai" in cached and "open_clip:ViT-B-32" not in specs  # no random-init archs
    assert all(
        get_pretrained_cfg(*s.removeprefix("open_clip:").split("@"))["hf_hub"].rstrip("/") == repo_id
        for s in cached
    )
    assert list_models("timm", cache_dir=tmp_path / "hub", available=True) == [
        f"timm:{repo_id.removeprefix('timm/')}"
    ]
    assert (
        list_main(["models", "--available", "--backend", "open_clip", "--cache-dir", str(tmp_path / "hub")])
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0] == f"# open_clip ({len(specs)})"


def test_vlmrobust_list_models_through_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    """The `vlmrobust` console script finds `list` through the installed entry point."""
    assert cli.main(["list", "models", "--filter", "vlmrobust-tiny"]) == 0
    expected = ["# open_clip (2)", "open_clip:vlmrobust-tiny-clip", "open_clip:vlmrobust-tiny-sigmoid-clip"]
    assert capsys.readouterr().out.splitlines() == expected
