"""A fast reader of local WebDataset shards: (key, {ext: bytes}) groups straight from the tar headers.

Plain ustar members (what ``export_webdataset`` and most writers produce) are parsed from the shard's
bytes without ``tarfile``'s per-member objects; a shard with any other member type (pax or GNU
long-name headers, links, ...) is read with ``tarfile`` instead. Samples are consecutive members sharing
the key before the first dot of the base name, as in the WebDataset format.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator

BLOCK = 512


def _members_fast(data: bytes) -> Iterator[tuple[str, bytes]] | None:
    """Members of an all-plain-file ustar archive, or ``None`` when another member type occurs."""
    out, pos, end = [], 0, len(data)
    while pos + BLOCK <= end:
        header = data[pos : pos + BLOCK]
        if header == bytes(BLOCK):  # end-of-archive marker
            break
        if header[156:157] not in (b"0", b"\0"):
            return None
        name = header[0:100].split(b"\0", 1)[0].decode("utf-8")
        prefix = header[345:500].split(b"\0", 1)[0].decode("utf-8") if header[257:262] == b"ustar" else ""
        size = int(header[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        start = pos + BLOCK
        out.append((f"{prefix}/{name}" if prefix else name, data[start : start + size]))
        pos = start + (size + BLOCK - 1) // BLOCK * BLOCK
    return iter(out)


def _members_tarfile(path: str) -> Iterator[tuple[str, bytes]]:
    with tarfile.open(path, "r|*") as tar:
        for member in tar:
            if member.isfile():
                f = tar.extractfile(member)
                assert f is not None
                yield member.name, f.read()


def iter_samples(path: str | os.PathLike[str]) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Yield ``(key, {extension: bytes})`` for every sample of a local shard, in archive order."""
    with open(path, "rb") as f:
        data = f.read()
    members = _members_fast(data)
    if members is None:
        members = _members_tarfile(str(path))
    key, group = None, {}
    for name, payload in members:
        base = name.rsplit("/", 1)[-1]
        k, _, ext = base.partition(".")
        if k != key:
            if key is not None:
                yield key, group
            key, group = k, {}
        group[ext] = payload
    if key is not None:
        yield key, group
