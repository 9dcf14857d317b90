"""The W&B run-file reader parses the record log, including records split across 32 KiB blocks."""

import json
import struct

import pytest
from wandb.proto import wandb_internal_pb2

from vlmrobust.eval.wandb_files import read_history


def _history(values: dict) -> bytes:
    record = wandb_internal_pb2.Record()
    for key, value in values.items():
        item = record.history.item.add()
        item.key = key
        item.value_json = json.dumps(value)
    return record.SerializeToString()


def _write_log(path, payloads: list[bytes]) -> None:
    """Write a LevelDB-style log by hand: 7-byte file header, 32 KiB blocks, FULL/FIRST/MIDDLE/LAST chunks."""
    out = bytearray(b":W&B" + b"\xe1\xbe\x00")
    block = 32 * 1024
    for payload in payloads:
        rest, first = payload, True
        while True:
            room = block - len(out) % block
            if room < 7:
                out += b"\x00" * room
                room = block
            take = min(len(rest), room - 7)
            last = take == len(rest)
            kind = (1 if last else 2) if first else (4 if last else 3)
            out += struct.pack("<IHB", 0, take, kind) + rest[:take]
            rest, first = rest[take:], False
            if last:
                break
    path.write_bytes(bytes(out))


def test_reads_small_and_block_spanning_records(tmp_path):
    big = {"robustness/pairs": "x" * 70_000, "val/acc": 0.5}  # spans three blocks: FIRST, MIDDLE, LAST
    _write_log(tmp_path / "run-abc.wandb", [_history({"a": 1}), _history(big), _history({"b": [1, 2]})])
    rows = read_history(tmp_path)
    assert rows == [{"a": 1}, big, {"b": [1, 2]}]


def test_not_a_run_file(tmp_path):
    (tmp_path / "run-x.wandb").write_bytes(b"garbage-bytes")
    with pytest.raises(ValueError, match=r"run-x.wandb: not a W&B run file"):
        read_history(tmp_path)


def test_missing_run_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run-"):
        read_history(tmp_path)
