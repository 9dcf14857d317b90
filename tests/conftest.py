"""Test-suite habits for every member: no network, W&B/HF offline, ``gpu`` tests skipped without CUDA.

- Network guard (autouse): ``socket.connect``/``connect_ex``/``create_connection`` refuse any address that
  is not loopback (``127.0.0.0/8``, ``::1``, ``localhost``) or a Unix socket, raising
  :class:`NetworkAccessError` before a packet is sent. Gloo/DDP on ``127.0.0.1`` keeps working.
- Offline environment: ``WANDB_MODE=offline``, ``WANDB_SILENT=true``, ``HF_HUB_OFFLINE=1``, set when this
  file is imported (libraries read some of them at import) and again for every test.
- ``@pytest.mark.gpu`` or ``@pytest.mark.gpu(min_cuda_gpus=2)``: skipped unless that many CUDA devices are
  visible (:func:`run_if_reason`; torch is imported only when such a test is collected).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator

import pytest

OFFLINE_ENV = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "HF_HUB_OFFLINE": "1"}
os.environ.update(OFFLINE_ENV)
os.environ.setdefault("PYTHONHASHSEED", "0")  # subprocesses (DDP, CLI) hash strings reproducibly


class NetworkAccessError(RuntimeError):
    """A test tried to reach a non-loopback address."""


def is_local_address(family: int, address: object) -> bool:
    """Whether a ``connect`` target stays on this host (Unix socket or loopback IP / ``localhost``)."""
    if family == getattr(socket, "AF_UNIX", None) or isinstance(address, (str, bytes)):
        return True  # Unix sockets take a path, not (host, port)
    host = address[0] if isinstance(address, tuple) and address else None
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False  # a host name other than localhost would need DNS and the network


def _refuse(address: object) -> NetworkAccessError:
    return NetworkAccessError(
        f"network access attempted in a test: connect to {address!r} (only loopback is allowed)"
    )


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse connections to anything but loopback and Unix sockets for the duration of a test."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_create_connection = socket.create_connection

    def connect(self: socket.socket, address: object) -> None:
        if not is_local_address(self.family, address):
            raise _refuse(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if not is_local_address(self.family, address):
            raise _refuse(address)
        return real_connect_ex(self, address)

    def create_connection(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        if not is_local_address(socket.AF_INET, address):
            raise _refuse(address)
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    yield


@pytest.fixture(autouse=True)
def offline_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """W&B and the Hugging Face hub offline in every test, even if an earlier test changed the variables."""
    for key, value in OFFLINE_ENV.items():
        monkeypatch.setenv(key, value)


def run_if_reason(min_cuda_gpus: int = 1) -> str | None:
    """Why a test needing ``min_cuda_gpus`` CUDA devices cannot run here, or ``None`` when it can."""
    import torch

    found = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return None if found >= min_cuda_gpus else f"needs {min_cuda_gpus} CUDA GPU(s), found {found}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu``-marked tests that need more CUDA devices than are visible."""
    reasons: dict[int, str | None] = {}
    for item in items:
        marker = item.get_closest_marker("gpu")
        if marker is None:
            continue
        need = int(marker.kwargs.get("min_cuda_gpus", 1))
        if need not in reasons:
            reasons[need] = run_if_reason(need)
        if reasons[need] is not None:
            item.add_marker(pytest.mark.skip(reason=reasons[need]))
