"""Readers of the corruption benchmarks of ImageNet val: ImageNet-C and ImageNet-3DCC (3D Common Corruptions).

Both are ImageNet val re-rendered once per corruption and severity, in the layout
``<root>/<corruption>/<severity>/<wnid>/<val file name>`` (hendrycks/robustness ``make_imagenet_c.py``,
EPFL-VILAB/3DCommonCorruptions ``create_3dcc/*.py``). Every corruption x severity is its own eval set,
``imagenet-c/<corruption>/<severity>`` or ``3dcc/<corruption>/<severity>``, on the 1000 IN-1k classes and
paired with ``imagenet-val``; sample ids are image paths relative to the severity folder
(``n01440764/ILSVRC2012_val_00000293.JPEG``). See ``docs/formats/corruptions.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.corruptions.apply import CORRUPTIONS
from vlmrobust.data.imagenet.samples import ImageSet, OnError, imagenet_1k_classes
from vlmrobust.data.imagenet.scan import require_dir, scan_dir
from vlmrobust.data.imagenet.shifts import _folder_set, _wnid_folders

CorruptionFamily = Literal["imagenet-c", "3dcc"]

#: The 15 ImageNet-C benchmark corruptions, in the benchmark's order (noise, blur, weather, digital).
IMAGENET_C_CORRUPTIONS: tuple[str, ...] = CORRUPTIONS  # one list with the on-the-fly corruptions
#: The 4 extra (held-out "validation") ImageNet-C corruptions, readable but not in the default list.
IMAGENET_C_EXTRA: tuple[str, ...] = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
#: The 12 corruptions released as ImageNet-3DCC, in the order of the official download script.
THREEDCC_CORRUPTIONS: tuple[str, ...] = (
    "near_focus", "far_focus", "fog_3d", "flash", "color_quant", "low_light", "xy_motion_blur",
    "z_motion_blur", "iso_noise", "bit_error", "h265_abr", "h265_crf",
)  # fmt: skip
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class CorruptionFamilySpec:
    """One corruption benchmark.

    Attributes:
        name: family name, the prefix of its eval-set names (``imagenet-c``, ``3dcc``).
        title: how errors and listings call it.
        standard: the corruptions evaluated by default, in the benchmark's order.
        extra: further corruptions that can be read by name.
    """

    name: CorruptionFamily
    title: str
    standard: tuple[str, ...]
    extra: tuple[str, ...] = ()

    @property
    def corruptions(self) -> tuple[str, ...]:
        """Every readable corruption: the standard ones, then the extra ones."""
        return self.standard + self.extra


#: The corruption families by name.
FAMILIES: dict[str, CorruptionFamilySpec] = {
    "imagenet-c": CorruptionFamilySpec("imagenet-c", "ImageNet-C", IMAGENET_C_CORRUPTIONS, IMAGENET_C_EXTRA),
    "3dcc": CorruptionFamilySpec("3dcc", "ImageNet-3DCC", THREEDCC_CORRUPTIONS),
}


def family_spec(family: str) -> CorruptionFamilySpec:
    """The spec of ``family``; an unknown name raises ``ValueError`` with suggestions."""
    if family not in FAMILIES:
        raise ValueError(
            f"unknown corruption family {family!r}. {did_you_mean(family, FAMILIES, 'families')}"
        )
    return FAMILIES[family]


def check_corruption(family: str, corruption: str) -> None:
    """Raise ``ValueError`` naming ``corruption`` (with suggestions) unless ``family`` has it."""
    spec = family_spec(family)
    if corruption not in spec.corruptions:
        valid = did_you_mean(corruption, spec.corruptions, f"{spec.title} corruptions")
        raise ValueError(f"unknown {spec.title} corruption {corruption!r}. {valid}")


def check_severity(severity: object) -> None:
    """Raise ``ValueError`` unless ``severity`` is an int in 1..5."""
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise ValueError(f"corruption severity must be one of 1, 2, 3, 4, 5; got {severity!r}")


def corruption_set_name(family: str, corruption: str, severity: int) -> str:
    """Eval-set name of one corruption at one severity: ``<family>/<corruption>/<severity>``."""
    return f"{family}/{corruption}/{severity}"


def parse_corruption_set(name: str) -> tuple[str, str, int] | None:
    """``(family, corruption, severity)`` of an eval-set name like ``imagenet-c/fog/3``.

    Returns ``None`` when the name does not start with a family prefix; raises ``ValueError`` naming the
    problem when it does but the corruption or severity is not valid.
    """
    family, _, rest = name.partition("/")
    if family not in FAMILIES:
        return None
    corruption, _, severity = rest.partition("/")
    if not severity.isdigit():
        raise ValueError(f"eval set {name!r} names no severity: expected {family}/<corruption>/<1..5>")
    check_corruption(family, corruption)
    check_severity(int(severity))
    return family, corruption, int(severity)


def _missing(root: Path, spec: CorruptionFamilySpec, corruption: str, severity: int) -> str | None:
    """Why ``root/<corruption>/<severity>`` cannot be read (``None`` when it is a folder)."""
    corruption_dir = root / corruption
    if not corruption_dir.is_dir():
        present = sorted(d for d in scan_dir(str(root))[0] if d in spec.corruptions)
        return (
            f"{corruption_dir}: {spec.title} corruption folder {corruption!r} does not exist "
            f"(found: {', '.join(present) or 'no corruption folder'}; layout <root>/<corruption>/<severity>/<wnid>/)"
        )
    severity_dir = corruption_dir / str(severity)
    if not severity_dir.is_dir():
        present = sorted(d for d in scan_dir(str(corruption_dir))[0] if d.isdigit())
        return (
            f"{severity_dir}: {spec.title} severity folder {severity} of {corruption!r} does not exist "
            f"(found severities: {', '.join(present) or 'none'})"
        )
    return None


def read_corruption(
    root: str | os.PathLike[str],
    family: CorruptionFamily,
    corruption: str,
    severity: int,
    *,
    on_error: OnError = "raise",
) -> ImageSet:
    """Index one corruption at one severity of a family: ``<root>/<corruption>/<severity>/<wnid>/<image>``.

    Args:
        root: the family's folder (e.g. ``ImageNet-C/``, ``ImageNet-3DCC/``), holding one folder per corruption.
        family: ``"imagenet-c"`` or ``"3dcc"``.
        corruption: a corruption of the family (e.g. ``"fog"``, ``"fog_3d"``).
        severity: 1..5.
        on_error: bad input inside the severity folder: ``"raise"``, or ``"skip"`` it and report the count.

    Raises:
        ValueError: unknown family or corruption (with suggestions), or a severity outside 1..5.
        FileNotFoundError: the corruption or severity folder is missing (named, with the ones present).
    """
    spec = family_spec(family)
    check_corruption(family, corruption)
    check_severity(severity)
    base = require_dir(root, f"{spec.title} folder")
    why = _missing(base, spec, corruption, severity)
    if why is not None:
        raise FileNotFoundError(why)
    classes = imagenet_1k_classes()
    name = corruption_set_name(family, corruption, severity)
    folder = base / corruption / str(severity)
    return _folder_set(name, folder, classes, _wnid_folders(classes), "ILSVRC-2012 wnid", on_error)


def read_imagenet_c(
    root: str | os.PathLike[str], corruption: str, severity: int, *, on_error: OnError = "raise"
) -> ImageSet:
    """Index ImageNet-C ``<root>/<corruption>/<severity>/<wnid>/ILSVRC2012_val_<n>.JPEG`` as
    ``imagenet-c/<corruption>/<severity>`` (``IMAGENET_C_CORRUPTIONS`` or ``IMAGENET_C_EXTRA``).

    Args:
        root: the ImageNet-C folder holding the corruption folders.
        corruption: e.g. ``"gaussian_noise"``.
        severity: 1..5.
        on_error: bad input inside the severity folder: ``"raise"``, or ``"skip"`` it and report the count.
    """
    return read_corruption(root, "imagenet-c", corruption, severity, on_error=on_error)


def read_3dcc(
    root: str | os.PathLike[str], corruption: str, severity: int, *, on_error: OnError = "raise"
) -> ImageSet:
    """Index ImageNet-3DCC ``<root>/<corruption>/<severity>/<wnid>/<val file name>`` as
    ``3dcc/<corruption>/<severity>`` (``THREEDCC_CORRUPTIONS``).

    Args:
        root: the ``ImageNet-3DCC`` folder holding the corruption folders.
        corruption: e.g. ``"near_focus"``.
        severity: 1..5.
        on_error: bad input inside the severity folder: ``"raise"``, or ``"skip"`` it and report the count.
    """
    return read_corruption(root, "3dcc", corruption, severity, on_error=on_error)


def corruption_sets(
    root: str | os.PathLike[str],
    family: CorruptionFamily,
    corruptions: Sequence[str] | None = None,
    severities: Sequence[int] = SEVERITIES,
    *,
    on_error: OnError = "raise",
) -> list[ImageSet]:
    """Index every requested corruption x severity of a family, corruption-major (fog/1, fog/2, ..., snow/1).

    Every requested folder must exist: the missing ones are all named in one error before any is indexed
    (``on_error`` applies to bad input inside the folders, not to a missing corruption or severity).

    Args:
        root: the family's folder, holding one folder per corruption.
        family: ``"imagenet-c"`` or ``"3dcc"``.
        corruptions: corruption names; ``None``: the family's standard list (ImageNet-C: the 15).
        severities: severities to read, each in 1..5.
        on_error: bad input inside a severity folder: ``"raise"``, or ``"skip"`` it and report the count.

    Raises:
        ValueError: unknown family or corruption, a severity outside 1..5, or empty/duplicate requests.
        FileNotFoundError: some requested corruption or severity folder is missing.
    """
    spec = family_spec(family)
    names = tuple(spec.standard if corruptions is None else corruptions)
    for corruption in names:
        check_corruption(family, corruption)
    for severity in severities:
        check_severity(severity)
    if not names or not severities:
        raise ValueError(f"{spec.title}: no corruption or no severity requested")
    if len(set(names)) < len(names) or len(set(severities)) < len(severities):
        raise ValueError(
            f"{spec.title}: duplicate corruption or severity in {list(names)} x {list(severities)}"
        )
    base = require_dir(root, f"{spec.title} folder")
    missing: dict[str, str] = {}  # relative folder -> why, one entry for a whole missing corruption
    for c in names:
        for s in severities:
            why = _missing(base, spec, c, s)
            if why is not None:
                missing.setdefault(c if not (base / c).is_dir() else f"{c}/{s}", why)
    if missing:
        raise FileNotFoundError(
            f"{base}: {len(missing)} requested {spec.title} folder(s) missing ({', '.join(missing)}). "
            f"First: {next(iter(missing.values()))}"
        )
    return [read_corruption(base, family, c, s, on_error=on_error) for c in names for s in severities]
