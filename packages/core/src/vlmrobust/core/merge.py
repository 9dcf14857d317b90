"""Combine the results stores of separate jobs (SLURM array tasks, several hosts) into one.

WAL does not work over network filesystems, so each job writes its own store on its own disk and
:func:`merge_stores` (``vlmrobust merge OUT IN [IN ...]``) folds them into ``OUT``. ``OUT`` may already
exist; it is then the first of the merged sources, followed by the inputs in the order given.

Rows are compared under the store keys (:data:`~vlmrobust.core.store.CELL_KEY` for cells,
:data:`~vlmrobust.core.store.PREDICTION_KEY` for predictions, the run key for runs). A key held by one
source only is added; the same row in several sources (cells: equal value, n, extra, whatever
``updated_at``; predictions: equal label, pred, correct, score, extra; runs: equal name and config,
whatever ``created_at``, the first source's kept) is merged silently; different rows under one key are a
conflict:

* ``on_conflict="refuse"`` (default): nothing at all is written and a :class:`MergeConflictError`
  names the first conflicting keys and the two files that hold them;
* ``on_conflict="newer"``: the cell with the later ``updated_at`` wins (on equal stamps the source
  listed later); for a prediction the source listed later wins (``OUT`` counts as listed first).

The whole merge is one ``BEGIN IMMEDIATE`` transaction on ``OUT`` that keeps every cell's original
``updated_at``, so a failure (a conflict, a bad input) leaves ``OUT`` as it was, and an ``OUT`` that
did not exist before is not created. Inputs of another schema version, or SQLite files that are not
results stores, are refused with the store's message. Memory: ``OUT``'s rows and the merged rows are
held in memory, while the inputs are read one at a time.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from vlmrobust.core.store import (
    _UPSERT_CELL,
    _UPSERT_PREDICTION,
    _UPSERT_RUN,
    CELL_COLUMNS,
    CELL_KEY,
    PREDICTION_COLUMNS,
    PREDICTION_KEY,
    RUN_COLUMNS,
    ResultsStore,
    StoreError,
)
from vlmrobust.core.suggest import did_you_mean

OnConflict = Literal["refuse", "newer"]
LISTED = 3  # conflicting keys named in a MergeConflictError message

_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cells": (CELL_KEY, CELL_COLUMNS),
    "predictions": (PREDICTION_KEY, PREDICTION_COLUMNS),
    "runs": (RUN_COLUMNS[:1], RUN_COLUMNS),
}
_UPSERTS = {"cells": _UPSERT_CELL, "predictions": _UPSERT_PREDICTION, "runs": _UPSERT_RUN}
_UPDATED_AT = CELL_COLUMNS.index("updated_at") - len(CELL_KEY)  # position of updated_at in a cell's payload

Row = tuple[Any, ...]


class MergeConflictError(StoreError):
    """Rows under one store key differ between two merged stores; nothing was written."""


@dataclass
class TableCounts:
    """What one source contributed to one table."""

    added: int = 0  # keys no earlier source held
    identical: int = 0  # keys an earlier source held with the same row
    replaced: int = 0  # keys an earlier source held with another row, replaced by this source's row
    outdated: int = 0  # keys an earlier source held with another, newer cell, which was kept ("newer" only)


@dataclass
class InputCounts:
    """Counts of one input store."""

    path: Path  # the input file
    cells: TableCounts = field(default_factory=TableCounts)  # its cells
    predictions: TableCounts = field(default_factory=TableCounts)  # its per-sample predictions
    runs: TableCounts = field(default_factory=TableCounts)  # its recorded runs


@dataclass
class MergeReport:
    """Outcome of :func:`merge_stores`."""

    out: Path  # the merged store
    on_conflict: OnConflict  # the conflict rule applied
    inputs: list[InputCounts]  # one entry per merged input, in merge order
    skipped: list[Path]  # inputs left out: ``out`` itself or repeats of an earlier input
    cells: int = 0  # cells in ``out`` after the merge
    predictions: int = 0  # predictions in ``out`` after the merge
    runs: int = 0  # recorded runs in ``out`` after the merge

    def summary(self) -> str:
        """One paragraph: totals, then per-input counts."""
        parts = []
        for item in self.inputs:
            c, p = item.cells, item.predictions
            text = (
                f"{item.path}: {c.added} cells added, {c.identical} identical, {c.replaced} replaced; "
                f"{p.added} predictions added, {p.identical} identical, {p.replaced} replaced"
            )
            parts.append(text + (f"; {c.outdated} older cells ignored" if c.outdated else ""))
        skipped = (
            f"Skipped {', '.join(map(str, self.skipped))} (the output or a repeat)." if self.skipped else ""
        )
        return (
            f"Merged {len(self.inputs)} store(s) into {self.out} (on conflict: {self.on_conflict}): "
            f"it holds {self.cells} cells, {self.predictions} predictions and {self.runs} runs. "
            + "".join(f"{part}. " for part in parts)
            + skipped
        ).rstrip()


def _key_text(table: str, key: Row) -> str:
    names = _TABLES[table][0]
    return f"{table[:-1]} " + " ".join(f"{n}={v!r}" for n, v in zip(names, key, strict=True))


def _read(conn: sqlite3.Connection, table: str) -> Iterator[tuple[Row, Row]]:
    """``(key, payload)`` for every row of ``table``."""
    key, columns = _TABLES[table]
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone():
        return  # a version-2 store has no runs table
    for row in conn.execute(f"SELECT {', '.join(columns)} FROM {table}"):
        yield row[: len(key)], row[len(key) :]


def _same(table: str, a: Row, b: Row) -> bool:
    if table == "cells":  # ignore updated_at
        return a[:_UPDATED_AT] + a[_UPDATED_AT + 1 :] == b[:_UPDATED_AT] + b[_UPDATED_AT + 1 :]
    if table == "runs":  # ignore created_at (last)
        return a[:-1] == b[:-1]
    return a == b


@contextmanager
def _input(path: Path) -> Iterator[sqlite3.Connection | None]:
    """A connection to an input store this code reads (``None`` for an empty file); refuses any other file."""
    store = ResultsStore(path)
    try:
        with closing(store._connect()) as conn:
            if store._check_readable(conn):  # raises the store's own message for another schema version
                yield conn
                return
            tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))
    except sqlite3.Error as err:
        raise StoreError(f"{path}: cannot read it as a results store ({err})") from None
    if tables:
        raise StoreError(
            f"{path} is a SQLite file with tables {tables} but no vlmrobust schema version; "
            "it is not a results store"
        )
    yield None  # an empty file: nothing to merge


def _sources(out: Path, inputs: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The inputs to merge (without ``out`` and repeats) and the skipped ones."""
    seen = {out.resolve()}
    kept, skipped = [], []
    for path in map(Path, inputs):
        resolved = path.resolve()
        (skipped if resolved in seen else kept).append(path)
        seen.add(resolved)
    return kept, skipped


def _missing_dirs(path: Path) -> list[Path]:
    """The ancestors of ``path`` that do not exist yet, deepest first."""
    missing = []
    for parent in path.absolute().parents:
        if parent.exists():
            break
        missing.append(parent)
    return missing


def _remove_created(out: Path, dirs: list[Path]) -> None:
    """Undo the creation of ``out`` (and its SQLite side files and new directories) after a failure."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    for d in dirs:
        try:
            d.rmdir()
        except OSError:
            break


def merge_stores(
    out: str | Path, inputs: Sequence[str | Path], on_conflict: OnConflict = "refuse"
) -> MergeReport:
    """Merge the cells and per-sample predictions of ``inputs`` into the results store ``out``.

    Args:
        out: the merged store; created when missing, else its rows take part as the first source.
        inputs: input stores, merged in this order (``out`` itself and repeats are skipped).
        on_conflict: ``"refuse"`` to write nothing when two sources hold different rows under one key;
            ``"newer"`` to keep the cell with the later ``updated_at`` and the prediction of the source
            listed later.

    Returns:
        Per-input counts of added, identical and replaced rows, and the totals of ``out``.

    Raises:
        MergeConflictError: conflicting rows under ``"refuse"``; ``out`` is left untouched.
        StoreError: an input or ``out`` of another schema version, or not a results store.
        FileNotFoundError: an input that does not exist.
        ValueError: an unknown ``on_conflict``.
    """
    choices = get_args(OnConflict)
    if on_conflict not in choices:
        raise ValueError(
            f"unknown on_conflict {on_conflict!r}. {did_you_mean(on_conflict, choices, 'choices')}"
        )
    out = Path(out)
    kept, skipped = _sources(out, [Path(p) for p in inputs])
    for path in kept:  # before anything is opened
        if not path.is_file():
            raise FileNotFoundError(errno.ENOENT, "no such results store", str(path))
    created, new_dirs = not out.exists(), _missing_dirs(out)
    report = MergeReport(
        out=out, on_conflict=on_conflict, inputs=[InputCounts(p) for p in kept], skipped=skipped
    )
    names = [out, *kept]  # source 0 is out
    try:
        with ResultsStore(out)._write() as conn:
            conflicts: list[str] = []  # the first LISTED conflicts, described
            n_conflicts = 0
            for table in _TABLES:
                # key -> (payload, index of the source it comes from); out's rows are source 0
                merged = {key: (payload, 0) for key, payload in _read(conn, table)}
                for i, path in enumerate(kept, start=1):
                    counts: TableCounts = getattr(report.inputs[i - 1], table)
                    with _input(path) as source:
                        for key, payload in _read(source, table) if source is not None else ():
                            held = merged.get(key)
                            if held is None:
                                merged[key] = (payload, i)
                                counts.added += 1
                            elif _same(table, held[0], payload):
                                counts.identical += 1
                            elif on_conflict == "refuse":
                                n_conflicts += 1
                                if len(conflicts) < LISTED:
                                    conflicts.append(f"{_key_text(table, key)} in {names[held[1]]} vs {path}")
                            # "newer": ISO-8601 UTC stamps of one format, so text order is time order
                            elif table == "cells" and held[0][_UPDATED_AT] > payload[_UPDATED_AT]:
                                counts.outdated += 1
                            else:
                                merged[key] = (payload, i)
                                counts.replaced += 1
                if not n_conflicts:
                    conn.executemany(_UPSERTS[table], (k + p for k, (p, src) in merged.items() if src))
                setattr(report, table, len(merged))
            if n_conflicts:
                raise MergeConflictError(
                    f"{n_conflicts} row(s) differ between the merged stores, e.g. {'; '.join(conflicts)}; "
                    f"nothing was written to {out} (merge with on_conflict='newer' / --on-conflict newer "
                    "to keep the newer cells)"
                )
    except BaseException as err:
        if created:
            _remove_created(out, new_dirs)
        if isinstance(err, sqlite3.Error):
            raise StoreError(f"{out}: cannot merge into it ({err})") from None
        raise
    return report
