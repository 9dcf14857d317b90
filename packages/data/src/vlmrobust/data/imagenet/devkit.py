"""The ILSVRC-2012 devkit: validation ground truth (1-based devkit ids) and ``meta.mat`` (id -> wnid).

The devkit may be the extracted ``ILSVRC2012_devkit_t12/`` folder or the ``ILSVRC2012_devkit_t12.tar.gz``
archive as downloaded. Devkit ids follow the WordNet-hierarchy order, not the sorted-wnid order, so every
label goes id -> wnid (``meta.mat``) -> IN-1k index.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from vlmrobust.data.imagenet import metadata
from vlmrobust.data.imagenet.samples import DatasetFormatError, Problems

DEVKIT_NAME = "ILSVRC2012_devkit_t12"
GROUND_TRUTH = "data/ILSVRC2012_validation_ground_truth.txt"
META_MAT = "data/meta.mat"


def find_devkit(images_dir: Path) -> Path:
    """Find the devkit folder or archive next to (or inside) the flat val image folder.

    Raises:
        FileNotFoundError: naming every place searched.
    """
    candidates = [
        base / f"{DEVKIT_NAME}{suffix}"
        for base in (images_dir, images_dir.parent)
        for suffix in ("", ".tar.gz")
    ]
    for path in candidates:
        if path.exists():
            return path
    raise FileNotFoundError(
        f"{images_dir}: flat ImageNet val images need the devkit; none of {', '.join(map(str, candidates))} "
        "exists. Pass devkit=<path to ILSVRC2012_devkit_t12 or its .tar.gz>."
    )


def read_devkit_file(devkit: Path, member: str) -> tuple[bytes, str]:
    """Return the bytes of ``member`` (e.g. ``data/meta.mat``) of a devkit folder or archive, and its name."""
    if devkit.is_dir():
        path = devkit / member
        if not path.is_file():
            raise FileNotFoundError(f"{path}: devkit file does not exist")
        return path.read_bytes(), str(path)
    with tarfile.open(devkit, "r:*") as tar:
        for info in tar.getmembers():
            if info.isfile() and (info.name == member or info.name.endswith("/" + member)):
                data = tar.extractfile(info)
                assert data is not None
                return data.read(), f"{devkit}:{info.name}"
    raise FileNotFoundError(f"{devkit}: archive has no member ending in {member!r}")


def devkit_id_to_index(devkit: Path) -> dict[int, int]:
    """Map devkit ``ILSVRC2012_ID`` (1-based) -> IN-1k index, from the leaf synsets of ``meta.mat``.

    Raises:
        DatasetFormatError: ``meta.mat`` lacks the ``synsets`` struct or its 1000 leaves differ from the
            ILSVRC-2012 wnids.
    """
    from scipy.io import loadmat  # scipy ships with vlmrobust-core

    raw, where = read_devkit_file(devkit, META_MAT)
    try:
        synsets = loadmat(io.BytesIO(raw), squeeze_me=True)["synsets"]
        ids, wnids, children = synsets["ILSVRC2012_ID"], synsets["WNID"], synsets["num_children"]
    except Exception as err:  # scipy raises MatReadError, ValueError, KeyError ... on a bad file
        raise DatasetFormatError(f"{where}: not a devkit meta.mat with a 'synsets' struct ({err})") from err
    index = metadata.wnid_to_index()
    out = {int(i): str(w) for i, w, c in zip(ids, wnids, children, strict=True) if int(c) == 0}
    unknown = sorted(set(out.values()) - set(index))
    if len(out) != metadata.NUM_CLASSES or unknown:
        raise DatasetFormatError(
            f"{where}: expected the 1000 ILSVRC-2012 leaf synsets (num_children == 0), found {len(out)}"
            + (f"; unknown wnids {unknown[:5]}" if unknown else "")
        )
    return {i: index[w] for i, w in out.items()}


def devkit_val_labels(devkit: Path, problems: Problems) -> tuple[list[int | None], str]:
    """IN-1k label of every val image from the devkit ground truth: entry n-1 is ``ILSVRC2012_val_{n:08d}``.

    A line that is not a valid devkit leaf id is reported to ``problems`` and gives ``None``.

    Returns:
        The labels and the name of the ground-truth file (for error messages).
    """
    id_to_index = devkit_id_to_index(devkit)
    raw, where = read_devkit_file(devkit, GROUND_TRUTH)
    labels: list[int | None] = []
    lines = raw.decode("ascii", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        label = id_to_index.get(int(text)) if text.isdigit() else None
        if label is None:
            problems(
                f"{where}:{line_no}", f"{text!r} is not a devkit ILSVRC2012_ID of a leaf synset (1..1000)"
            )
        labels.append(label)
    return labels, where
