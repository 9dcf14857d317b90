"""`vlmrobust list models` and `list_models`."""

from __future__ import annotations

import pytest

from vlmrobust.core import cli
from vlmrobust.models.commands import list_main
from vlmrobust.models.registry import list_models


def test_list_models_registry() -> None:
    specs = list_models()
    assert specs[:2] == ["open_clip:vlmrobust-tiny-clip", "open_clip:vlmrobust-tiny-sigmoid-clip"]
    assert "open_clip:ViT-B-32" in specs and "open_clip:ViT-B-32@laion2b_s34b_b79k" in specs
    assert len(specs) == len(set(specs))
    assert list_models("hf") == []
    with pytest.raises(ValueError, match="Did you mean 'open_clip'"):
        list_models("openclip")  # type: ignore[arg-type]


def test_list_main_filter(capsys: pytest.CaptureFixture[str]) -> None:
    assert list_main(["models", "--filter", "TINY-CLIP"]) == 0
    assert capsys.readouterr().out.splitlines() == ["open_clip:vlmrobust-tiny-clip"]
    assert list_main(["models", "--backend", "hf"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "no hf models match" in captured.err


def test_vlmrobust_list_models_through_dispatcher(capsys: pytest.CaptureFixture[str]) -> None:
    """The `vlmrobust` console script finds `list` through the installed entry point."""
    assert cli.main(["list", "models", "--filter", "vlmrobust-tiny"]) == 0
    expected = ["open_clip:vlmrobust-tiny-clip", "open_clip:vlmrobust-tiny-sigmoid-clip"]
    assert capsys.readouterr().out.splitlines() == expected
