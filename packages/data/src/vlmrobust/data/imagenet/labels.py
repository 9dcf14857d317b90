"""Alternative ImageNet val labels: the clean labels of Kisel et al. (2025) and ReaL (Beyer et al., 2020)."""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass

from vlmrobust.data.imagenet.samples import DatasetFormatError, Problems

CLEAN_HEADER = ("id", "original_label", "proposed_labels", "validation")
_CLEAN_ID = re.compile(r"^ILSVRC2012_val_(\d{8})(?:\.JPEG)?$")


@dataclass(frozen=True, slots=True)
class CleanLabel:
    """One row of ``clean_validation.csv``: the official label, the proposed label set and its line."""

    original: int
    proposed: tuple[int, ...]
    line: int


def _in1k(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isdigit() and int(text) < 1000 else None


def read_clean_labels(path: str | os.PathLike[str], problems: Problems) -> dict[int, CleanLabel]:
    """Parse Kisel et al.'s ``clean_validation.csv`` (header ``id,original_label,proposed_labels,validation``).

    ``proposed_labels`` holds one or more IN-1k indices joined by ``", "`` (CSV-quoted when several).

    Returns:
        Val image number -> ``CleanLabel``. Rows with an empty label set (no valid label) are left out, so
        their images are excluded like unlisted ones.
    """
    out: dict[int, CleanLabel] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = tuple(next(reader, ()))
        if header != CLEAN_HEADER:
            # a wrong header makes every row meaningless: always an error
            raise DatasetFormatError(
                f"{path}:1: header {','.join(header)!r}, expected {','.join(CLEAN_HEADER)!r}"
            )
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if len(row) != 4:
                problems(where, f"expected 4 fields {CLEAN_HEADER}, got {len(row)}")
                continue
            match = _CLEAN_ID.match(row[0])
            original = _in1k(row[1])
            parsed = [_in1k(x) for x in row[2].split(",") if x.strip()]
            proposed = tuple(dict.fromkeys(x for x in parsed if x is not None))
            if match is None or original is None or None in parsed:
                problems(
                    where, f"malformed row {row!r}: want ILSVRC2012_val_XXXXXXXX.JPEG and IN-1k ints 0..999"
                )
                continue
            number = int(match.group(1))
            if number in out:
                problems(where, f"duplicate id {row[0]!r} (first on line {out[number].line})")
                continue
            if proposed:
                out[number] = CleanLabel(original, proposed, reader.line_num)
    return out


def read_real_labels(path: str | os.PathLike[str], problems: Problems) -> list[tuple[int, ...] | None]:
    """Parse ReaL's ``real.json``: a JSON array whose entry i lists the IN-1k labels of val image i+1.

    An empty entry means "no valid label" (the image is excluded). A malformed entry is reported to
    ``problems`` and gives ``None``.
    """
    with open(path, encoding="utf-8") as f:
        try:
            data = json.load(f)
        except json.JSONDecodeError as err:
            raise DatasetFormatError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, list):
        raise DatasetFormatError(f"{path}: expected a JSON array of label lists, got {type(data).__name__}")
    out: list[tuple[int, ...] | None] = []
    for i, entry in enumerate(data):
        ok = isinstance(entry, list) and all(type(x) is int and 0 <= x < 1000 for x in entry)
        if not ok:
            problems(f"{path}[{i}]", f"entry {entry!r} is not a list of IN-1k indices 0..999")
        out.append(tuple(dict.fromkeys(entry)) if ok else None)
    return out
