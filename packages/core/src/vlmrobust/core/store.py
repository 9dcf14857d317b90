"""SQLite results store: one file per output dir, safe for several concurrent writer processes.

Three tables:

* ``cells``: one number per (run, model, eval_set, protocol, metric, step), with the sample
  count ``n`` and free-form JSON ``extra``.
* ``predictions``: one row per (run, model, eval_set, protocol, step, sample_id) with label,
  prediction, correctness, an optional score and free-form JSON ``extra`` (option scores, the raw
  generation of a VLM, the parse status of its answer, top-5 classes ...).
* ``runs``: one row per run key (``vlmrobust.core.runs``): its name, config hash and the identity config
  that produced it, so a key is reused only for an identical config and ``vlmrobust list runs`` shows it.

The file is created (with its parent directory) on the first write, in WAL mode with a busy
timeout, and its schema version is kept in ``PRAGMA user_version``. A version-1 file (no ``extra``
column on predictions) or version-2 file (no ``runs`` table) is upgraded in place on the first write (a
version-2 file is also read as is, with no runs); a file of a newer version, or a SQLite
file that is not a results store, is refused with a message naming it. Every :meth:`ResultsStore.put`
is one ``BEGIN IMMEDIATE`` transaction of idempotent upserts: re-writing a key replaces the row,
and a failure part-way rolls the whole call back, leaving earlier rows intact.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from vlmrobust.core.suggest import did_you_mean

#: Version of the on-disk schema, stored in ``PRAGMA user_version``.
SCHEMA_VERSION = 3
#: Oldest schema version read without an upgrade (2 lacks only the ``runs`` table).
READABLE_FROM = 2

CELL_KEY: tuple[str, ...] = ("run", "model", "eval_set", "protocol", "metric", "step")
CELL_COLUMNS: tuple[str, ...] = (*CELL_KEY, "value", "n", "extra", "updated_at")
PREDICTION_KEY: tuple[str, ...] = ("run", "model", "eval_set", "protocol", "step", "sample_id")
PREDICTION_COLUMNS: tuple[str, ...] = (*PREDICTION_KEY, "label", "pred", "correct", "score", "extra")
RUN_COLUMNS: tuple[str, ...] = ("run", "name", "config_hash", "config", "created_at")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    run TEXT NOT NULL,
    model TEXT NOT NULL,
    eval_set TEXT NOT NULL,
    protocol TEXT NOT NULL,
    metric TEXT NOT NULL,
    step INTEGER NOT NULL,
    value REAL,
    n INTEGER,
    extra TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (run, model, eval_set, protocol, metric, step)
);
CREATE TABLE IF NOT EXISTS predictions (
    run TEXT NOT NULL,
    model TEXT NOT NULL,
    eval_set TEXT NOT NULL,
    protocol TEXT NOT NULL,
    step INTEGER NOT NULL,
    sample_id TEXT NOT NULL,
    label INTEGER NOT NULL,
    pred INTEGER NOT NULL,
    correct INTEGER NOT NULL,
    score REAL,
    extra TEXT,
    PRIMARY KEY (run, model, eval_set, protocol, step, sample_id)
);
CREATE TABLE IF NOT EXISTS runs (
    run TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

_UPSERT_CELL = f"""
INSERT INTO cells ({", ".join(CELL_COLUMNS)}) VALUES ({", ".join("?" * len(CELL_COLUMNS))})
ON CONFLICT ({", ".join(CELL_KEY)}) DO UPDATE SET
    value = excluded.value, n = excluded.n, extra = excluded.extra, updated_at = excluded.updated_at
"""
_UPSERT_PREDICTION = f"""
INSERT INTO predictions ({", ".join(PREDICTION_COLUMNS)}) VALUES ({", ".join("?" * len(PREDICTION_COLUMNS))})
ON CONFLICT ({", ".join(PREDICTION_KEY)}) DO UPDATE SET
    label = excluded.label, pred = excluded.pred, correct = excluded.correct, score = excluded.score,
    extra = excluded.extra
"""
_UPSERT_RUN = f"""
INSERT INTO runs ({", ".join(RUN_COLUMNS)}) VALUES ({", ".join("?" * len(RUN_COLUMNS))})
ON CONFLICT (run) DO UPDATE SET
    name = excluded.name, config_hash = excluded.config_hash, config = excluded.config
"""
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE predictions ADD COLUMN extra TEXT",),  # 1 -> 2: per-sample JSON details
    2: (  # 2 -> 3: the identity config of every run key
        "CREATE TABLE IF NOT EXISTS runs (run TEXT PRIMARY KEY, name TEXT NOT NULL, config_hash TEXT NOT NULL, "
        "config TEXT NOT NULL, created_at TEXT NOT NULL)",
    ),
}


class StoreError(RuntimeError):
    """The results store file cannot be used (newer schema, bad input)."""


@dataclass(frozen=True)
class Cell:
    """One result number, keyed by (run, model, eval_set, protocol, metric, step)."""

    run: str  # training/eval run id
    model: str  # model spec or name
    eval_set: str  # eval-set name, e.g. "imagenet-r"
    value: float  # the metric value (accuracy as a fraction for top1)
    n: int | None  # number of samples behind the value (None if not applicable)
    protocol: str = "zeroshot"  # how the model was evaluated, e.g. "zeroshot", "mcq-hierarchy", "probe"
    metric: str = "top1"  # metric name
    step: int = -1  # training step (-1: not tied to a step)
    extra: dict[str, Any] | None = None  # free-form JSON-serialisable details

    def row(self, updated_at: str) -> tuple[Any, ...]:
        """The row as stored, in ``CELL_COLUMNS`` order."""
        extra = None if self.extra is None else json.dumps(self.extra, sort_keys=True)
        n = None if self.n is None else int(self.n)
        return (self.run, self.model, self.eval_set, self.protocol, self.metric, int(self.step),
                float(self.value), n, extra, updated_at)  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _where(filters: dict[str, Any], valid: tuple[str, ...], table: str) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for key, value in filters.items():
        if key not in valid:
            raise StoreError(f"unknown filter {key!r} for {table}. {did_you_mean(key, valid, 'filters')}")
        if isinstance(value, list | tuple | set | frozenset):
            values = list(value)
            clauses.append(f"{key} IN ({', '.join('?' * len(values))})" if values else "0")
            params.extend(values)
        else:
            clauses.append(f"{key} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _json_or_none(value: Any) -> str | None:
    """Compact JSON of a per-sample ``extra`` (its key order kept), ``None`` for missing values."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return json.dumps(value, separators=(",", ":"))


def _record_rows(records: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Prediction rows from dicts with the frame's columns (same defaults as the frame path)."""
    rows = []
    for i, r in enumerate(records):
        try:
            label, pred = int(r["label"]), int(r["pred"])
            correct = r.get("correct")
            score = r.get("score")
            rows.append((r["run"], r["model"], r["eval_set"], r.get("protocol", "zeroshot"), int(r.get("step", -1)),
                         str(r["sample_id"]), label, pred, int(label == pred if correct is None else bool(correct)),
                         None if score is None else float(score), _json_or_none(r.get("extra"))))  # fmt: skip
        except KeyError as err:
            raise StoreError(
                f"predictions[{i}] lacks {err}; required: run, model, eval_set, sample_id, label, pred"
            ) from None
    return rows


class ResultsStore:
    """A results database at ``path`` (SQLite, WAL mode), created on the first write.

    Args:
        path: file of the database; its parent directory is created on the first write.
        timeout: seconds a writer waits for another process's lock before failing.
    """

    def __init__(self, path: str | Path, timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.path)!r})"

    @property
    def exists(self) -> bool:
        """Whether the database file has been created."""
        return self.path.exists()

    # -- connections -------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one ``BEGIN IMMEDIATE`` transaction on an up-to-date schema."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            self._enable_wal(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._ensure_schema(conn)
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs a moment of exclusive access; retry while other processes hold locks.
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as err:
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: could not switch the database to WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = NORMAL")

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this vlmrobust ({SCHEMA_VERSION}); "
                "upgrade vlmrobust-core"
            )
        if version == SCHEMA_VERSION:
            return
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == 0 and tables:
            raise StoreError(
                f"{self.path} is a SQLite file with tables {sorted(tables)} but no vlmrobust schema version; "
                "it is not a results store (give another path)"
            )
        if version == 0:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
        for old in range(max(version, 1), SCHEMA_VERSION) if version else ():
            for statement in _MIGRATIONS[old]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_readable(self, conn: sqlite3.Connection) -> bool:
        """False for an empty file; raise for a file of another schema version than this code reads."""
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            if tables:
                raise StoreError(
                    f"{self.path} is a SQLite file with tables {sorted(tables)} but no vlmrobust schema "
                    "version; it is not a results store (give another path)"
                )
            return False
        if not READABLE_FROM <= version <= SCHEMA_VERSION:
            action = (
                "upgrade vlmrobust-core" if version > SCHEMA_VERSION else "write to it once to upgrade it"
            )
            raise StoreError(
                f"{self.path} has schema version {version}; this vlmrobust reads versions {READABLE_FROM}-"
                f"{SCHEMA_VERSION} "
                f"({action})"
            )
        return True

    def schema_version(self) -> int:
        """The schema version of the file (0 when it does not exist yet)."""
        if not self.exists:
            return 0
        conn = self._connect()
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        finally:
            conn.close()

    # -- writing -----------------------------------------------------------------------------------

    def put(
        self,
        cells: Iterable[Cell] = (),
        predictions: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        """Upsert cells and per-sample predictions in one transaction.

        Args:
            cells: result cells; a cell whose key exists replaces the stored one.
            predictions: optional frame (or list of dicts, the fast path of evaluation loops) with
                columns ``run, model, eval_set, sample_id, label, pred`` and optionally ``protocol`` (default ``"zeroshot"``), ``step`` (default -1),
                ``correct`` (default ``label == pred``), ``score`` (default NULL) and ``extra`` (a dict
                per row, stored as JSON; default NULL).

        Raises:
            StoreError: a cell that is not a :class:`Cell`, or predictions missing columns.
            sqlite3.Error: a database error; nothing from this call is kept.
        """
        cells = list(cells)
        for i, cell in enumerate(cells):
            if not isinstance(cell, Cell):
                raise StoreError(f"cells[{i}] is a {type(cell).__name__}, expected vlmrobust.core.store.Cell")
        if predictions is None:
            pred_rows = []
        elif isinstance(predictions, pd.DataFrame):
            pred_rows = self._prediction_rows(predictions)
        else:
            pred_rows = _record_rows(predictions)
        if not cells and not pred_rows:
            return
        stamp = _now()
        with self._write() as conn:
            conn.executemany(_UPSERT_CELL, (c.row(stamp) for c in cells))
            conn.executemany(_UPSERT_PREDICTION, pred_rows)

    def put_run(self, run: str, name: str, config: Mapping[str, Any]) -> bool:
        """Record the identity config of run key ``run`` (once); return whether it was new.

        Args:
            run: the run key, ``vlmrobust.core.runs.run_key(name, config)``.
            name: the run's name (the key without its hash).
            config: the resolved config; its identity part (``vlmrobust.core.runs.identity_config``) is kept.

        Raises:
            StoreError: ``run`` is not ``run_key(name, config)``, or the key is stored with another config.
        """
        from vlmrobust.core.runs import config_diff, config_hash, describe_diff, identity_config, run_key

        if run != run_key(name, config):
            raise StoreError(
                f"run key {run!r} is not the key of name {name!r} and its config ({run_key(name, config)!r})"
            )
        identity = identity_config(config)
        blob = json.dumps(identity, sort_keys=True)
        with self._write() as conn:
            stored = conn.execute("SELECT config FROM runs WHERE run = ?", (run,)).fetchone()
            if stored is None:
                conn.execute(
                    "INSERT INTO runs (run, name, config_hash, config, created_at) VALUES (?, ?, ?, ?, ?)",
                    (run, name, config_hash(config), blob, _now()),
                )
                return True
        old = json.loads(stored[0])
        if old != identity:
            raise StoreError(
                f"{self.path}: run {run!r} is stored with another config (hash collision?): "
                f"{describe_diff(config_diff(old, identity))}"
            )
        return False

    def config_change(self, name: str, config: Mapping[str, Any]) -> tuple[str, str] | None:
        """``(key, differences)`` of the newest stored run of ``name`` whose config is not ``config`` (the
        differing identity keys as ``key (old -> new), …``), or ``None`` when there is none."""
        from vlmrobust.core.runs import config_diff, describe_diff, run_key

        others = self.runs(name=name)
        others = others[others["run"] != run_key(name, config)]
        if others.empty:
            return None
        last = others.iloc[-1]
        return str(last["run"]), describe_diff(config_diff(last["config"], config))

    def runs(self, **filters: Any) -> pd.DataFrame:
        """Recorded runs with ``RUN_COLUMNS`` (``config`` decoded), oldest first; empty for a version-2 file.

        Args:
            **filters: column = value (or a list of values), e.g. ``name="quickstart-fit"``.
        """
        df = self._read("runs", RUN_COLUMNS, filters, "created_at, run")
        df["config"] = [json.loads(c) for c in df["config"]]
        return df

    @staticmethod
    def _prediction_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
        required = ("run", "model", "eval_set", "sample_id", "label", "pred")
        missing = [c for c in required if c not in frame.columns]
        if missing:
            raise StoreError(
                f"predictions frame lacks column(s) {', '.join(missing)}; it has: {', '.join(map(str, frame.columns))}"
            )
        df = frame.copy()
        if "protocol" not in df.columns:
            df["protocol"] = "zeroshot"
        if "step" not in df.columns:
            df["step"] = -1
        if "correct" not in df.columns:
            df["correct"] = df["label"] == df["pred"]
        if "score" not in df.columns:
            df["score"] = None
        df["extra"] = [_json_or_none(e) for e in df["extra"]] if "extra" in df.columns else None
        df = df[list(PREDICTION_COLUMNS)].astype(object)
        df = df.where(df.notna(), None)

        def convert(r: tuple[Any, ...]) -> tuple[Any, ...]:
            run, model, eval_set, protocol, step, sample_id, label, pred, correct, score, extra = r
            return (run, model, eval_set, protocol, None if step is None else int(step),
                    None if sample_id is None else str(sample_id),
                    None if label is None else int(label), None if pred is None else int(pred),
                    None if correct is None else int(bool(correct)),
                    None if score is None else float(score), extra)  # fmt: skip

        return [convert(r) for r in df.itertuples(index=False, name=None)]

    # -- reading -----------------------------------------------------------------------------------

    def _read(
        self, table: str, columns: tuple[str, ...], filters: dict[str, Any], order: str
    ) -> pd.DataFrame:
        valid = {"cells": CELL_COLUMNS, "predictions": PREDICTION_COLUMNS, "runs": RUN_COLUMNS}[table]
        where, params = _where(filters, valid, table)
        if not self.exists:
            return pd.DataFrame({c: [] for c in columns})
        conn = self._connect()
        try:
            if not self._check_readable(conn):
                return pd.DataFrame({c: [] for c in columns})
            has_table = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
            ).fetchone()
            if not has_table:
                return pd.DataFrame({c: [] for c in columns})
            rows = conn.execute(
                f"SELECT {', '.join(columns)} FROM {table}{where} ORDER BY {order}", params
            ).fetchall()
        finally:
            conn.close()
        return pd.DataFrame(rows, columns=list(columns))

    def cells(self, **filters: Any) -> pd.DataFrame:
        """Stored cells as a frame with ``CELL_COLUMNS``; ``extra`` decoded from JSON.

        Args:
            **filters: column = value (or a list of values), e.g. ``run="r1", eval_set=["a", "b"]``.
        """
        df = self._read("cells", CELL_COLUMNS, filters, ", ".join(CELL_KEY))
        df["extra"] = [json.loads(e) if isinstance(e, str) else None for e in df["extra"]]
        return df

    def predictions(self, **filters: Any) -> pd.DataFrame:
        """Stored per-sample predictions with ``PREDICTION_COLUMNS``; ``correct`` as bool.

        Args:
            **filters: column = value (or a list of values).
        """
        df = self._read("predictions", PREDICTION_COLUMNS, filters, ", ".join(PREDICTION_KEY))
        df["correct"] = df["correct"].astype(bool)
        df["extra"] = [json.loads(e) if isinstance(e, str) else None for e in df["extra"]]
        return df

    def prediction_ids(self, run: str, model: str, eval_set: str, protocol: str, step: int) -> set[str]:
        """Sample ids already stored for one (run, model, eval_set, protocol, step): what a resumed
        evaluation skips."""
        if not self.exists:
            return set()
        conn = self._connect()
        try:
            if not self._check_readable(conn):
                return set()
            rows = conn.execute(
                "SELECT sample_id FROM predictions WHERE run=? AND model=? AND eval_set=? AND protocol=? "
                "AND step=?",
                (run, model, eval_set, protocol, int(step)),
            ).fetchall()
        finally:
            conn.close()
        return {r[0] for r in rows}

    def _selected(self, metric: str, protocol: str, step: int | Literal["last"]) -> pd.DataFrame:
        df = self.cells(metric=metric, protocol=protocol)
        if step == "last":
            last = df.groupby(["run", "model", "eval_set"])["step"].transform("max")
            return df[df["step"] == last]
        return df[df["step"] == int(step)]

    def wide(
        self, metric: str = "top1", protocol: str = "zeroshot", step: int | Literal["last"] = "last"
    ) -> pd.DataFrame:
        """Pivot cells to the wide table :func:`vlmrobust.core.robustness.fit_robustness` takes.

        One row per (run, model) and one column per eval set, holding ``value``. The row label
        (column ``model``) is the run name when runs differ, else the model name, kept unique:

        * a single run (e.g. one eval run over many pretrained models): the model name;
        * several runs, each holding one model (e.g. fine-tuning runs, seeds, sweeps of one
          model spec): the run name;
        * several runs holding several models, each model in one run only: the model name;
        * otherwise: ``"<run>/<model>"``.

        Args:
            metric: metric to pivot.
            protocol: evaluation protocol to pivot.
            step: a training step, or ``"last"`` for each (run, model, eval_set)'s latest step.
        """
        df = self._selected(metric, protocol, step)
        if df.empty:
            return pd.DataFrame({"model": []})
        pairs = df[["run", "model"]].drop_duplicates()
        if pairs["run"].nunique() == 1:
            label = df["model"]
        elif not pairs["run"].duplicated().any():
            label = df["run"]
        elif not pairs["model"].duplicated().any():
            label = df["model"]
        else:
            label = df["run"] + "/" + df["model"]
        df = df.assign(label=label)
        wide = df.pivot_table(index="label", columns="eval_set", values="value", aggfunc="first", sort=True)
        wide = wide.reset_index().rename(columns={"label": "model"})
        wide.columns.name = None
        return wide

    def sample_counts(
        self, metric: str = "top1", protocol: str = "zeroshot", step: int | Literal["last"] = "last"
    ) -> dict[str, int]:
        """Largest stored sample count ``n`` per eval set (eval sets without any ``n`` are left out)."""
        df = self._selected(metric, protocol, step).dropna(subset=["n"])
        return {str(k): int(v) for k, v in df.groupby("eval_set")["n"].max().items()}
