"""Benchmark files: write and read MCQ questions as JSONL (always) or Parquet (with pyarrow), plus stats.

Every row carries ``format_version``; reading checks it and every field, and names the file and row of
a bad record. Files are written to a temporary name and renamed, so they are never partially written.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from vlmrobust.core.atomic import atomic_write, atomic_write_text
from vlmrobust.core.optional import require
from vlmrobust.data.mcq.builder import FORMAT_VERSION, Question

FIELDS = tuple(f.name for f in dataclasses.fields(Question))
_TUPLES = ("options", "option_names", "labels")


class BenchmarkFormatError(ValueError):
    """A benchmark file is malformed; the message starts with the file (and row)."""


def _require_pyarrow() -> tuple[ModuleType, ModuleType]:
    """``(pyarrow, pyarrow.parquet)``, or a :class:`MissingDependencyError` naming the ``parquet`` extra."""
    pa = require("pyarrow", "parquet", "vlmrobust-data", "Parquet benchmark files")
    return pa, require("pyarrow.parquet", "parquet", "vlmrobust-data", "Parquet benchmark files")


def write_benchmark(questions: Iterable[Question], path: str | os.PathLike[str]) -> Path:
    """Write questions to ``path``: ``.jsonl`` (one JSON object per line) or ``.parquet``."""
    path = Path(path)
    rows = [dataclasses.asdict(q) for q in questions]
    if path.suffix == ".jsonl":

        def write(tmp: Path) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")

    elif path.suffix == ".parquet":
        pa, pq = _require_pyarrow()

        def write(tmp: Path) -> None:
            table = pa.Table.from_pylist(rows) if rows else pa.table({f: [] for f in FIELDS})
            pq.write_table(table, tmp)

    else:
        raise ValueError(f"{path}: benchmark files end in .jsonl or .parquet")
    return atomic_write(path, write)


def _question(row: dict[str, Any], where: str) -> Question:
    if row.get("format_version") != FORMAT_VERSION:
        raise BenchmarkFormatError(
            f"{where}: format_version {row.get('format_version')!r}, this reader understands {FORMAT_VERSION!r}"
        )
    missing = [f for f in FIELDS if f not in row]
    if missing:
        raise BenchmarkFormatError(f"{where}: missing field(s) {missing}")
    values = {f: tuple(row[f]) if f in _TUPLES else row[f] for f in FIELDS}
    q = Question(**values)
    if not 0 <= q.answer < len(q.options) or len(q.option_names) != len(q.options):
        raise BenchmarkFormatError(
            f"{where}: answer {q.answer} or option_names do not fit {len(q.options)} options"
        )
    return q


def read_benchmark(path: str | os.PathLike[str]) -> list[Question]:
    """Read a ``.jsonl`` or ``.parquet`` benchmark file written by :func:`write_benchmark`.

    Raises:
        BenchmarkFormatError: a row is not JSON, lacks a field, has another format version or an
            answer outside its options; the message names the file and row.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        _, pq = _require_pyarrow()
        rows = pq.read_table(path).to_pylist()
        return [_question(row, f"{path} row {i}") for i, row in enumerate(rows)]
    out = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise BenchmarkFormatError(f"{path}:{line_no}: not JSON ({err})") from None
            out.append(_question(row, f"{path}:{line_no}"))
    return out


def write_stats(stats: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write a stats dict as indented JSON (atomically)."""
    text = json.dumps(stats, indent=2, sort_keys=True) + "\n"
    return atomic_write_text(path, text)


def benchmark_stem(eval_set: str, strategy: str, num_options: int, seed: int) -> str:
    """File stem of a benchmark: ``<eval_set>.<strategy>.k<K>.seed<seed>`` (``/`` in names becomes ``_``)."""
    return f"{eval_set.replace('/', '_')}.{strategy}.k{num_options}.seed{seed}"


def save_benchmark(
    questions: list[Question], stats: dict[str, Any], out_dir: str | os.PathLike[str], fmt: str = "jsonl"
) -> tuple[Path, Path]:
    """Write ``<stem>.<fmt>`` and ``<stem>.stats.json`` under ``out_dir``; returns both paths."""
    if fmt not in ("jsonl", "parquet"):
        raise ValueError(f"unknown benchmark format {fmt!r}; valid: 'jsonl', 'parquet'")
    stem = benchmark_stem(stats["eval_set"], stats["strategy"], stats["num_options"], stats["seed"])
    out = Path(out_dir)
    return write_benchmark(questions, out / f"{stem}.{fmt}"), write_stats(stats, out / f"{stem}.stats.json")
