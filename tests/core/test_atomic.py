"""Atomic writes: old content survives a failed write, concurrent writers never mix, no temporaries left."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from vlmrobust.core.atomic import atomic_write, atomic_write_bytes, atomic_write_text, temp_path


def test_writes_and_creates_parent(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "out.txt"
    assert atomic_write_text(target, "héllo\n") == target
    assert target.read_text(encoding="utf-8") == "héllo\n"
    atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_failing_writer_keeps_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old", encoding="utf-8")
    seen: list[Path] = []

    def half_then_fail(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("new, but cut sh", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "old"
    assert seen and not seen[0].exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_keyboard_interrupt_also_cleans_up(tmp_path: Path) -> None:
    def interrupted(tmp: Path) -> None:
        tmp.write_bytes(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "f.bin", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_temp_names_are_unique_hidden_siblings_with_the_suffix(tmp_path: Path) -> None:
    target = tmp_path / "cache.npz"
    names = {temp_path(target) for _ in range(1000)}
    assert len(names) == 1000
    for name in names:
        assert name.parent == tmp_path and name.name.startswith(f".cache.{os.getpid()}-")
        assert name.name.endswith(".tmp.npz")


def test_concurrent_writers_never_produce_a_mixed_file(tmp_path: Path) -> None:
    target = tmp_path / "shared.txt"
    both_writing = threading.Barrier(2, timeout=10)
    chunk = 64 * 1024
    errors: list[BaseException] = []

    def writer(letter: str) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "w", encoding="ascii") as f:
                f.write(letter * chunk)
                f.flush()
                both_writing.wait()  # both temporaries are open and half written at this point
                f.write(letter * chunk)

        try:
            atomic_write(target, write)
        except BaseException as err:  # surfaced below: a shared temp name makes one replace fail
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(c,)) for c in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_text(encoding="ascii") in ("a" * 2 * chunk, "b" * 2 * chunk)
    assert [p.name for p in tmp_path.iterdir()] == ["shared.txt"]
