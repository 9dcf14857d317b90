"""Fixtures for tests/models: tiny random-init scorers and VLMs (the network guard is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from vlmrobust.models.registry import load_scorer

TINY = "open_clip:vlmrobust-tiny-clip"
TINY_SIGMOID = "open_clip:vlmrobust-tiny-sigmoid-clip"


@pytest.fixture(scope="module")
def tiny():
    """A tiny random-init CLIP (seed 0), shared by read-only tests of a module."""
    return load_scorer(TINY, seed=0)


TINY_VLM_FAMILIES = ("llava", "qwen2_vl", "idefics3")


@pytest.fixture(scope="session")
def tiny_vlm_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Complete tiny model directories (config, safetensors, tokenizer, processor, chat template) per family."""
    from vlmrobust.models.tiny_hf import write_tiny_idefics3, write_tiny_llava, write_tiny_qwen2_vl

    writers = {"llava": write_tiny_llava, "qwen2_vl": write_tiny_qwen2_vl, "idefics3": write_tiny_idefics3}
    return {
        name: writers[name](tmp_path_factory.mktemp(f"tiny-{name}"), seed=0) for name in TINY_VLM_FAMILIES
    }


@pytest.fixture(scope="session")
def tiny_vlms(tiny_vlm_dirs: dict) -> dict:
    """The tiny VLMs loaded through ``load_vlm("hf:<dir>")`` (read-only use)."""
    from vlmrobust.models.hf_vlm import load_vlm

    return {name: load_vlm(f"hf:{path}") for name, path in tiny_vlm_dirs.items()}


@pytest.fixture(params=TINY_VLM_FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    """Name of a tiny VLM family; tests using it run once per family."""
    return request.param
