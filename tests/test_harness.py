"""The root conftest's habits: the network guard, the offline environment and the ``gpu`` marker."""

from __future__ import annotations

import os
import socket
import threading

import pytest


def test_guard_refuses_a_non_loopback_address_before_sending() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(
            RuntimeError, match=r"network access attempted in a test: connect to \('10\.255\.255\.1', 9\)"
        ):
            sock.connect(("10.255.255.1", 9))
        with pytest.raises(RuntimeError, match="network access attempted"):
            sock.connect_ex(("10.255.255.1", 9))
        with pytest.raises(OSError):
            sock.getpeername()  # never connected: the guard ran before the connect syscall
    finally:
        sock.close()
    with pytest.raises(RuntimeError, match="network access attempted"):
        socket.create_connection(("10.255.255.1", 9), timeout=0.1)
    with pytest.raises(RuntimeError, match="network access attempted"):
        socket.create_connection(("example.com", 443), timeout=0.1)  # host names other than localhost too


def test_guard_lets_loopback_through() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        accepted: list[bytes] = []

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                accepted.append(conn.recv(5))

        thread = threading.Thread(target=serve)
        thread.start()
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            client.sendall(b"hello")
        thread.join(timeout=5)
    assert accepted == [b"hello"]


def test_guard_lets_unix_sockets_through(tmp_path) -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        left.sendall(b"x")
        assert right.recv(1) == b"x"
    path = str(tmp_path / "s.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(path)
        server.listen()
        client.connect(path)


def test_offline_environment() -> None:
    assert os.environ["WANDB_MODE"] == "offline"
    assert os.environ["WANDB_SILENT"] == "true"
    assert os.environ["HF_HUB_OFFLINE"] == "1"


@pytest.mark.gpu(min_cuda_gpus=1_000_000)
def test_gpu_marker_skips_without_enough_devices() -> None:
    pytest.fail("a gpu test ran without the CUDA devices it asks for")


@pytest.mark.gpu
def test_gpu_marker_runs_only_with_cuda() -> None:
    import torch

    assert torch.cuda.is_available() and torch.cuda.device_count() >= 1
