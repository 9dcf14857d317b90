"""ResultsStore: schema, idempotent upserts, atomic writes, concurrent writers, wide pivot."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from vlmrobust.core.store import SCHEMA_VERSION, Cell, ResultsStore, StoreError


def _preds(run: str, ids: list[str], label: int = 1, pred: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {"run": run, "model": "m", "eval_set": "id", "sample_id": ids, "label": label, "pred": pred}
    )


def test_created_on_first_write_with_schema_and_wal(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "sub" / "results.db")
    assert not store.exists and store.schema_version() == 0
    assert store.cells().empty and list(store.cells().columns)[:3] == ["run", "model", "eval_set"]
    store.put([Cell("r1", "m", "id", 0.5, 100, extra={"note": "x"})])
    assert store.exists and store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    row = store.cells().iloc[0]
    assert (row.run, row.value, row.n, row.protocol, row.metric, row.step) == (
        "r1",
        0.5,
        100,
        "zeroshot",
        "top1",
        -1,
    )
    assert row.extra == {"note": "x"}


def test_upsert_is_idempotent(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    cells = [Cell("r1", "m", "id", 0.5, 100), Cell("r1", "m", "shift", 0.3, 100)]
    store.put(cells, _preds("r1", ["a", "b"]))
    store.put(cells, _preds("r1", ["a", "b"]))
    assert len(store.cells()) == 2 and len(store.predictions()) == 2
    store.put([Cell("r1", "m", "id", 0.6, 120)], _preds("r1", ["a"], pred=0))
    df = store.cells(eval_set="id")
    assert len(df) == 1 and df.value.iloc[0] == 0.6 and df.n.iloc[0] == 120
    preds = store.predictions().set_index("sample_id")
    assert preds.loc["a", "correct"] == False and preds.loc["b", "correct"] == True  # noqa: E712
    assert len(store.cells()) == 2
    # A different step is a different key.
    store.put([Cell("r1", "m", "id", 0.7, 120, step=10)])
    assert len(store.cells()) == 3


def test_failed_write_leaves_previous_rows_intact(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    store.put([Cell("r1", "m", "id", 0.5, 100)], _preds("r1", ["a"]))
    bad_preds = _preds("r1", ["b", None])  # NULL sample_id violates NOT NULL after the cells went in
    with pytest.raises(sqlite3.IntegrityError):
        store.put([Cell("r1", "m", "id", 0.9, 100), Cell("r2", "m", "id", 0.1, 100)], bad_preds)
    cells = store.cells()
    assert cells.run.tolist() == ["r1"] and cells.value.tolist() == [0.5]
    assert store.predictions().sample_id.tolist() == ["a"]


def test_bad_input_errors(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    with pytest.raises(StoreError, match=r"lacks column.*pred"):
        store.put([], _preds("r1", ["a"]).drop(columns="pred"))
    with pytest.raises(StoreError, match=r"expected vlmrobust\.core\.store\.Cell"):
        store.put([("r1", "m", "id", 0.5)])  # type: ignore[list-item]
    with pytest.raises(StoreError, match="Did you mean 'eval_set'"):
        store.cells(evalset="id")
    assert not store.exists  # nothing was written


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this vlmrobust"):
        ResultsStore(path).put([Cell("r", "m", "id", 0.5, 1)])


def test_filters_and_predictions_defaults(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    store.put(
        [Cell(f"r{i}", "m", "id", i / 10, 10) for i in range(4)], _preds("r0", ["x", "y"]).assign(score=0.25)
    )
    assert store.cells(run=["r1", "r3"]).value.tolist() == [0.1, 0.3]
    assert store.cells(run=[]).empty
    p = store.predictions(run="r0")
    assert p.protocol.unique().tolist() == ["zeroshot"] and p.step.unique().tolist() == [-1]
    assert p.score.tolist() == [0.25, 0.25] and p.correct.all()


def test_wide_labels_and_steps(tmp_path: Path) -> None:
    # One eval run over several models: rows are labelled by model.
    store = ResultsStore(tmp_path / "a.db")
    store.put([Cell("eval", m, s, v, 50) for m, v in (("m1", 0.5), ("m2", 0.6)) for s in ("id", "ood")])
    wide = store.wide()
    assert wide.columns.tolist() == ["model", "id", "ood"] and wide.model.tolist() == ["m1", "m2"]
    # Several runs of one model spec (e.g. fine-tuning seeds): rows are labelled by run, latest step.
    store = ResultsStore(tmp_path / "b.db")
    store.put([Cell(r, "clip", "id", v, 50, step=st) for r, v in (("r1", 0.5), ("r2", 0.6)) for st in (1, 5)])
    store.put([Cell("r1", "clip", "id", 0.99, 50, step=5)])
    store.put([Cell("r1", "clip", "id", 0.1, 50, step=1, protocol="probe")])
    wide = store.wide()
    assert wide.model.tolist() == ["r1", "r2"] and wide["id"].tolist() == [0.99, 0.6]
    assert store.wide(step=1)["id"].tolist() == [0.5, 0.6]
    assert store.wide(protocol="probe")["id"].tolist() == [0.1]
    assert store.sample_counts() == {"id": 50}
    # Several runs of one model each: run names; runs of several models, each model once: model names.
    store = ResultsStore(tmp_path / "d.db")
    store.put([Cell("r1", "m1", "id", 0.5, 1), Cell("r2", "m2", "id", 0.6, 1)])
    assert store.wide().model.tolist() == ["r1", "r2"]
    store.put([Cell("r2", "m3", "id", 0.7, 1)])
    assert store.wide().model.tolist() == ["m1", "m2", "m3"]
    # Runs and models both repeat: "<run>/<model>".
    store = ResultsStore(tmp_path / "c.db")
    store.put([Cell(r, m, "id", 0.5, 1) for r in ("r1", "r2") for m in ("m1", "m2")])
    assert store.wide().model.tolist() == ["r1/m1", "r1/m2", "r2/m1", "r2/m2"]


def _writer(path: str, worker: int, n_puts: int, start: mp.synchronize.Barrier) -> None:  # type: ignore[name-defined]
    store = ResultsStore(path)
    start.wait()
    for i in range(n_puts):
        run = f"w{worker}"
        store.put(
            [Cell(run, "m", "id", i / n_puts, 100, step=i), Cell(run, "m", "ood", i / n_puts, 100, step=i)],
            _preds(run, [f"{i}-{j}" for j in range(5)]).assign(step=i),
        )


@pytest.mark.slow
def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "shared" / "results.db")
    ctx = mp.get_context("fork")
    workers, n_puts = 4, 20
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=_writer, args=(path, w, n_puts, barrier)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * workers
    store = ResultsStore(path)
    cells = store.cells()
    assert len(cells) == workers * n_puts * 2
    assert cells.groupby("run").size().tolist() == [n_puts * 2] * workers
    assert len(store.predictions()) == workers * n_puts * 5


_V1_SCHEMA = """
CREATE TABLE cells (run TEXT NOT NULL, model TEXT NOT NULL, eval_set TEXT NOT NULL, protocol TEXT NOT NULL,
    metric TEXT NOT NULL, step INTEGER NOT NULL, value REAL, n INTEGER, extra TEXT, updated_at TEXT NOT NULL,
    UNIQUE (run, model, eval_set, protocol, metric, step));
CREATE TABLE predictions (run TEXT NOT NULL, model TEXT NOT NULL, eval_set TEXT NOT NULL,
    protocol TEXT NOT NULL, step INTEGER NOT NULL, sample_id TEXT NOT NULL, label INTEGER NOT NULL,
    pred INTEGER NOT NULL, correct INTEGER NOT NULL, score REAL,
    PRIMARY KEY (run, model, eval_set, protocol, step, sample_id));
INSERT INTO predictions VALUES ('r', 'm', 'id', 'zeroshot', -1, 's0', 1, 1, 1, NULL);
PRAGMA user_version = 1;
"""


def test_per_sample_extra_round_trips_and_ids_are_listed(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    frame = _preds("r", ["a", "b"]).assign(extra=[{"output": "B.", "scores": [0.5, 1.0]}, None])
    store.put(predictions=frame)
    got = store.predictions()
    assert got["extra"].tolist() == [{"output": "B.", "scores": [0.5, 1.0]}, None]
    assert store.prediction_ids("r", "m", "id", "zeroshot", -1) == {"a", "b"}
    assert store.prediction_ids("r", "m", "id", "zeroshot", 3) == set()


def test_version_1_file_is_upgraded_on_write_and_refused_before(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_V1_SCHEMA)
    store = ResultsStore(path)
    with pytest.raises(StoreError, match=r"old\.db has schema version 1; this vlmrobust reads versions 2-3"):
        store.predictions()
    store.put(predictions=_preds("r", ["s1"]))  # a write upgrades in place, keeping the old row
    assert store.schema_version() == SCHEMA_VERSION
    got = store.predictions()
    assert got["sample_id"].tolist() == ["s0", "s1"] and got["extra"].tolist() == [None, None]


def test_newer_or_foreign_files_are_refused_and_left_untouched(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.executescript(_V1_SCHEMA.replace("user_version = 1", "user_version = 99"))
    with pytest.raises(StoreError, match="schema version 99"):
        ResultsStore(newer).put([Cell("r", "m", "id", 0.5, 2)])
    with pytest.raises(StoreError, match="upgrade vlmrobust-core"):
        ResultsStore(newer).cells()
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(StoreError, match=r"foreign\.db is a SQLite file with tables \['songs'\]"):
        ResultsStore(foreign).put([Cell("r", "m", "id", 0.5, 2)])
    with pytest.raises(StoreError, match="not a results store"):
        ResultsStore(foreign).cells()
    with sqlite3.connect(foreign) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='cells'").fetchone()[0] == 0


def test_an_empty_file_reads_as_an_empty_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # e.g. created by a reader polling before the first write
    store = ResultsStore(path)
    assert store.prediction_ids("r", "m", "id", "zeroshot", -1) == set() and store.cells().empty
    store.put(predictions=_preds("r", ["a"]))
    assert store.prediction_ids("r", "m", "id", "zeroshot", -1) == {"a"}
