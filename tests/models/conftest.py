"""Fixtures for tests/models: no network, tiny random-init scorers."""

from __future__ import annotations

import socket

import pytest

from vlmrobust.models.registry import load_scorer

TINY = "open_clip:vlmrobust-tiny-clip"
TINY_SIGMOID = "open_clip:vlmrobust-tiny-sigmoid-clip"


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to open a network connection."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"network access attempted in a test: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny():
    """A tiny random-init CLIP (seed 0), shared by read-only tests of a module."""
    return load_scorer(TINY, seed=0)
