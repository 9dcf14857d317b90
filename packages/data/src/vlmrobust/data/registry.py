"""The one table of readable eval sets: reader, description, paired ID rule and class count of each.

ImageNet-family readers take the set's folder (``reader(root, on_error=...)`` -> ``ImageSet``; ImageNet val
also takes ``labels=`` / ``label_file=``) and are served by ``ImageNetDataModule``; the procedural world's
readers take no folder (``reader(seed=..., size=..., image_size=...)`` -> ``LabelledDataset``) and are served
by ``WorldDataModule``; the compositional benchmarks (``vlmrobust.data.benchmarks``) are served by
``BenchmarksDataModule``. ``vlmrobust list evalsets`` prints the table.

A corruption family (ImageNet-C, ImageNet-3DCC: one set per corruption x severity) is one *pattern* row,
``imagenet-c/<corruption>/<severity>``, rather than 75 rows: ``get_entry`` / ``get_reader`` also resolve every
concrete name of a family (``imagenet-c/fog/3`` -> a reader bound to that corruption and severity, called
like the others with the family's root), ``list_evalsets`` leaves pattern rows out unless ``patterns=True``
(its callers want sets they can read by name), and ``ImageNetDataModule(corruptions=...)`` serves a family.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.benchmarks import BENCHMARK_SETS
from vlmrobust.data.imagenet.corruptions import (
    FAMILIES,
    SEVERITIES,
    parse_corruption_set,
    read_3dcc,
    read_imagenet_c,
)
from vlmrobust.data.imagenet.imagenet_d import IMAGENET_D_CLASSES, IMAGENET_D_SPLITS, read_imagenet_d
from vlmrobust.data.imagenet.shifts import (
    read_imagenet_a,
    read_imagenet_r,
    read_imagenet_sketch,
    read_imagenet_v2,
    read_objectnet,
)
from vlmrobust.data.imagenet.stylized import read_stylized_imagenet
from vlmrobust.data.imagenet.val import read_imagenet_val
from vlmrobust.data.world.classes import CLASS_NAMES
from vlmrobust.data.world.domains import DOMAINS, SHIFTS

Family = Literal["imagenet", "world", "benchmark"]


@dataclass(frozen=True)
class EvalSetEntry:
    """One readable eval set.

    Attributes:
        name: eval-set name (as in ``EvalSetInfo.name`` and the results store).
        reader: builds the set: from a folder for ``imagenet`` sets, from a seed for ``world`` sets.
        description: what the set is, in a few words.
        id_set: name of the paired ID set (``None`` for an ID set itself).
        id_rule: how the paired ID set is made and scored (empty when it is the ID set as is).
        num_classes: number of classes of its label space.
        family: ``"imagenet"`` (``ImageNetDataModule``), ``"world"`` (``WorldDataModule``) or ``"benchmark"``
            (compositional benchmarks of ``vlmrobust.data.benchmarks``, ``BenchmarksDataModule``).
        members: for a pattern row (a corruption family), the concrete sets it stands for in a few words
            (printed below it by ``vlmrobust list evalsets``); empty for a single set.
    """

    name: str
    reader: Callable[..., Any]
    description: str
    id_set: str | None
    id_rule: str
    num_classes: int
    family: Family
    members: str = ""

    @property
    def pattern(self) -> bool:
        """Whether the name is a pattern standing for one set per corruption x severity."""
        return bool(self.members)

    @property
    def datamodule(self) -> str:
        """Class path of the DataModule that serves the set."""
        cls = {
            "imagenet": "ImageNetDataModule",
            "world": "WorldDataModule",
            "benchmark": "BenchmarksDataModule",
        }[self.family]
        return f"vlmrobust.data.datamodules.{cls}"


def read_world(
    domain: str, *, seed: int = 0, size: int = 500, image_size: int = 32, split: str = "eval"
) -> Any:
    """A world domain's labelled eval dataset (``LabelledDataset``; images drawn on access).

    Args:
        domain: ``"id"`` or a shift of ``vlmrobust.data.world.domains.SHIFTS``.
        seed: world seed.
        size: number of images.
        image_size: image side in pixels.
        split: ``"eval"`` or ``"train"``.
    """
    from vlmrobust.data.world.datasets import LabelledDataset
    from vlmrobust.data.world.generator import ProceduralWorld

    return LabelledDataset(ProceduralWorld(seed, image_size), domain, split, size)


_ON_VAL = "val images whose official label is one of its {n} classes; "
_ON_125 = "argmax over the 125 mapped IN-1k columns"
_IMAGENET_D = {
    "background": "objects on unusual backgrounds",
    "texture": "objects with unusual textures",
    "material": "objects of unusual materials",
}
_CORRUPTION_READERS: dict[str, Callable[..., Any]] = {"imagenet-c": read_imagenet_c, "3dcc": read_3dcc}


def _pattern_name(family: str) -> str:
    return f"{family}/<corruption>/<severity>"


def _corruption_family(family: str) -> EvalSetEntry:
    """The pattern row of a corruption family: one set per corruption x severity, paired with val."""
    spec = FAMILIES[family]
    n, extra = len(spec.standard), spec.extra
    description = f"{spec.title}: {n} corruptions x severities 1-5 = {n * len(SEVERITIES)} sets"
    members = f"corruptions: {', '.join(spec.standard)}"
    if extra:
        description += f" (+{len(extra)} extra corruptions by name)"
        members += f"; extra: {', '.join(extra)}"
    return EvalSetEntry(_pattern_name(family), _CORRUPTION_READERS[family], description, "imagenet-val", "",
                        1000, "imagenet", members)  # fmt: skip


_IMAGENET = (
    EvalSetEntry("imagenet-val", read_imagenet_val, "ImageNet-1k validation (original, clean or ReaL labels)",
                 None, "", 1000, "imagenet"),
    EvalSetEntry("imagenet-v2", read_imagenet_v2, "ImageNet-V2 (reproduction of the val set)",
                 "imagenet-val", "", 1000, "imagenet"),
    EvalSetEntry("imagenet-sketch", read_imagenet_sketch, "ImageNet-Sketch (grey sketches)",
                 "imagenet-val", "", 1000, "imagenet"),
    EvalSetEntry("imagenet-r", read_imagenet_r, "ImageNet-R (renditions: art, cartoons, toys ...)",
                 "imagenet-val-on-imagenet-r-classes", _ON_VAL.format(n=200) + "logits restricted to them",
                 200, "imagenet"),
    EvalSetEntry("imagenet-a", read_imagenet_a, "ImageNet-A (natural adversarial examples)",
                 "imagenet-val-on-imagenet-a-classes", _ON_VAL.format(n=200) + "logits restricted to them",
                 200, "imagenet"),
    EvalSetEntry("objectnet", read_objectnet, "ObjectNet (the 113 classes that overlap IN-1k)",
                 "imagenet-val-on-objectnet-classes",
                 _ON_VAL.format(n=113) + _ON_125, 113, "imagenet"),
    *(EvalSetEntry(f"imagenet-d-{split}", partial(read_imagenet_d, split=split),
                   f"ImageNet-D {split} split (diffusion-generated {_IMAGENET_D[split]})",
                   "imagenet-val-on-imagenet-d-classes", _ON_VAL.format(n=113) + _ON_125,
                   len(IMAGENET_D_CLASSES), "imagenet") for split in IMAGENET_D_SPLITS),
    EvalSetEntry("stylized-imagenet", read_stylized_imagenet, "Stylized-ImageNet val (AdaIN-stylized val images)",
                 "imagenet-val", "", 1000, "imagenet"),
    *(_corruption_family(family) for family in FAMILIES),
)  # fmt: skip
_WORLD = tuple(
    EvalSetEntry(
        f"world/{d}",
        partial(read_world, d),
        f"procedural world, {d} domain (models {DOMAINS[d].analogue})",
        None if d == "id" else "world/id",
        "",
        len(CLASS_NAMES),
        "world",
    )
    for d in ("id", *SHIFTS)
)
_BENCHMARKS = tuple(
    EvalSetEntry(b.name, b.read, f"{b.description} [path: {b.path}]", None, "", 0, "benchmark")
    for b in BENCHMARK_SETS.values()
)
#: Every readable eval set by name, ImageNet family first.
EVAL_SETS: dict[str, EvalSetEntry] = {e.name: e for e in (*_IMAGENET, *_WORLD, *_BENCHMARKS)}


def list_evalsets(family: Family | None = None, *, patterns: bool = False) -> list[EvalSetEntry]:
    """The registered eval sets (of one ``family`` if given), in table order.

    Args:
        family: only the sets of this family.
        patterns: also return the pattern rows of the corruption families (``imagenet-c/<corruption>/<severity>``).
    """
    return [
        e
        for e in EVAL_SETS.values()
        if (family is None or e.family == family) and (patterns or not e.pattern)
    ]


def _corruption_entry(name: str) -> EvalSetEntry | None:
    """The entry of a concrete corruption set (``imagenet-c/fog/3``); ``None`` if ``name`` is not of a family."""
    try:
        parsed = parse_corruption_set(name)
    except ValueError as e:
        raise KeyError(f"unknown eval set {name!r}: {e}") from None
    if parsed is None:
        return None
    family, corruption, severity = parsed
    row = EVAL_SETS[_pattern_name(family)]
    return dataclasses.replace(
        row,
        name=name,
        reader=partial(row.reader, corruption=corruption, severity=severity),
        description=f"{FAMILIES[family].title} {corruption}, severity {severity}",
        members="",
    )


def get_entry(name: str) -> EvalSetEntry:
    """The table entry of ``name``, or of a concrete set of a corruption family (``imagenet-c/fog/3``, whose
    reader is bound to that corruption and severity: ``reader(root, on_error=...)`` with the family's root).

    Raises:
        KeyError: unknown name (suggestions and every name), or an unknown corruption / severity of a family.
    """
    if name in EVAL_SETS:
        return EVAL_SETS[name]
    entry = _corruption_entry(name)
    if entry is None:
        raise KeyError(f"unknown eval set {name!r}. {did_you_mean(name, EVAL_SETS, 'eval sets')}")
    return entry


def get_reader(name: str) -> Callable[..., Any]:
    """The reader of eval set ``name`` (see the module docstring for its arguments); ``name`` may be a
    concrete set of a corruption family (``imagenet-c/fog/3``).

    Raises:
        KeyError: unknown name; the message suggests close names and lists every valid one.
    """
    return get_entry(name).reader


def list_main(argv: list[str]) -> int:
    """``vlmrobust list evalsets [--family F]``: one row per eval set (name, classes, paired ID set, served by,
    description), the rule of a restricted ID set on the line below; one row per corruption family, its
    corruptions on the line below."""
    parser = argparse.ArgumentParser(prog="vlmrobust list evalsets", description="List readable eval sets.")
    parser.add_argument(
        "--family", choices=("imagenet", "world", "benchmark"), default=None, help="only this family"
    )
    args = parser.parse_args(argv)
    entries = list_evalsets(args.family, patterns=True)
    rows = [("name", "classes", "paired ID set", "datamodule", "description")]
    rows += [
        (e.name, str(e.num_classes), e.id_set or "-", e.datamodule.rsplit(".", 1)[1], e.description)
        for e in entries
    ]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for row, e in zip(rows, [None, *entries], strict=True):
        left = [
            row[0].ljust(widths[0]),
            row[1].rjust(widths[1]),
            row[2].ljust(widths[2]),
            row[3].ljust(widths[3]),
        ]
        print("  ".join([*left, row[4]]))
        if e is not None and e.id_rule:
            print(" " * (widths[0] + 2) + f"ID: {e.id_rule}")
        if e is not None and e.members:
            print(" " * (widths[0] + 2) + e.members)
    return 0
