"""Read W&B run files (``wandb/offline-run-*/run-*.wandb``) without a server, e.g. to check offline runs.

The file is W&B's append-only record log: a 7-byte header (``:W&B``, 2 magic bytes, version), then
LevelDB-style log blocks of 32 KiB whose chunks carry a 7-byte header (CRC32C, length, type) and
together form serialised ``wandb_internal_pb2.Record`` protobufs.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_HEADER = 7
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _records(data: bytes, path: Path) -> Iterator[bytes]:
    if data[:4] != b":W&B":
        raise ValueError(f"{path}: not a W&B run file (missing ':W&B' header)")
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _HEADER:  # block trailer padding
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind == _FULL:
            yield chunk
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pending + chunk
            pending = b""
        elif kind == 0 and length == 0:  # zero padding at the end of a partially written file
            break
        else:
            raise ValueError(f"{path}: corrupt record of type {kind} at byte {pos}")


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """Return the logged history rows of one W&B run directory (online or offline), in order.

    Args:
        run_dir: a ``wandb/offline-run-*`` or ``wandb/run-*`` directory.
    """
    from wandb.proto import wandb_internal_pb2

    run_dir = Path(run_dir)
    files = sorted(run_dir.glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"{run_dir}: no run-*.wandb file")
    rows = []
    for raw in _records(files[0].read_bytes(), files[0]):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    item.key or "/".join(item.nested_key): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
    return rows
