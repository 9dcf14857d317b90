"""Fast directory indexing with ``os.scandir`` (no per-file ``stat``, no decoding) for class-folder layouts."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path

from vlmrobust.data.imagenet.samples import Problems, close_matches

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".ppm"})


def require_dir(path: str | os.PathLike[str], what: str) -> Path:
    """Return ``path`` as a ``Path`` or raise ``FileNotFoundError`` naming it and what was expected there."""
    path = Path(path)
    if not path.is_dir():
        reason = "is not a folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"{path}: {what} {reason}")
    return path


def scan_dir(path: str) -> tuple[list[str], list[str]]:
    """Names of the sub-folders and of the other entries of ``path``, hidden entries left out.

    ``DirEntry.is_dir`` answers from the directory listing on common file systems (no ``stat`` call).
    """
    dirs: list[str] = []
    files: list[str] = []
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            (dirs if entry.is_dir() else files).append(entry.name)
    return dirs, files


def is_image_name(name: str) -> bool:
    """Whether a file name has an image extension (case-insensitive)."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_EXTENSIONS


def scan_class_folders(
    root: Path,
    folder_class: Mapping[str, int],
    problems: Problems,
    *,
    what: str,
    dropped: Collection[str] = (),
    accept: Callable[[str], bool] | None = is_image_name,
) -> tuple[list[tuple[int, str, list[str]]], int]:
    """Index ``root/<folder>/<file>`` where every folder names one class.

    Top-level files (e.g. ``README.txt``) are ignored, as ImageFolder does. A folder not in
    ``folder_class`` or ``dropped``, a file that ``accept`` rejects, and every folder of ``folder_class``
    missing under ``root`` are bad input, reported to ``problems``.

    Args:
        root: the set's root folder.
        folder_class: folder name -> class index, for every folder the set must have.
        problems: where bad inputs go.
        what: how to describe a valid folder name in errors (e.g. ``"ImageNet-R wnid"``).
        dropped: known folder names whose images are left out by design (ObjectNet's 200 other classes).
        accept: predicate on file names (default: image extensions); ``None`` keeps every file and leaves
            the check to the caller.

    Returns:
        ``(class index, folder path, sorted file names)`` sorted by class, and the number of files (that
        ``accept`` takes) in the ``dropped`` folders: the images left out.
    """
    dirs, _ = scan_dir(str(root))
    found: list[tuple[int, str]] = []
    n_dropped = 0
    for name in dirs:
        k = folder_class.get(name)
        if k is not None:
            found.append((k, name))
        elif name in dropped:
            _, files = scan_dir(os.path.join(root, name))
            n_dropped += len(files) if accept is None else sum(map(accept, files))
        else:
            problems(
                root / name, f"unknown folder {name!r}: not a {what}.{close_matches(name, folder_class)}"
            )
    seen = {name for _, name in found}
    missing = [name for name in folder_class if name not in seen]
    if missing:
        for name in missing if problems.on_error == "skip" else missing[:1]:
            problems(root / name, f"missing class folder ({len(missing)} of {len(folder_class)} missing)")
    out: list[tuple[int, str, list[str]]] = []
    for k, name in sorted(found):
        folder = os.path.join(root, name)
        _, files = scan_dir(folder)
        files.sort()
        if accept is not None and not all(map(accept, files)):
            for fname in files:
                if not accept(fname):
                    problems(os.path.join(folder, fname), "not an image file of this layout")
            files = [f for f in files if accept(f)]
        out.append((k, folder, files))
    return out, n_dropped
