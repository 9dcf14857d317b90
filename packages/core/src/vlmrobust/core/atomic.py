"""Atomic file writes: write a unique temporary sibling, then ``os.replace`` it over the target.

A reader never sees a partly written file, a failed or killed write leaves the previous file intact,
and concurrent writers (threads or processes) never share a temporary file, so the target is always
one writer's complete output (the last ``os.replace`` wins).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def temp_path(path: str | os.PathLike[str]) -> Path:
    """A fresh temporary name beside ``path``: ``.<stem>.<pid>-<random>.tmp<suffix>``.

    The suffix is kept because some writers pick the format from it (``np.savez`` appends ``.npz``
    to other names, ``Figure.savefig`` infers the image format). The pid and 64 random bits make the
    name unique across processes and across threads of one process.

    Args:
        path: the final destination.

    Returns:
        A path in the same directory (so ``os.replace`` stays on one filesystem, hence atomic).
    """
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(8)}.tmp{path.suffix}")


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a fresh temporary path, flush it to disk, and move it onto ``path``.

    The parent folder is created. On any failure (including ``KeyboardInterrupt``) the temporary
    file is removed and the exception propagates; ``path`` keeps its previous content.

    Args:
        path: the destination.
        write: writes the complete file at the path it is given (its return value is ignored).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data reaches the disk before the rename makes it visible
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
