"""merge_stores / `vlmrobust merge`: union of separate jobs' stores, identical rows, refused conflicts."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest

from vlmrobust.core.cli import main as cli
from vlmrobust.core.merge import MergeConflictError, merge_stores
from vlmrobust.core.store import Cell, ResultsStore, StoreError


def _preds(run: str, eval_set: str, ids: list[str], pred: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run": run,
            "model": "m",
            "eval_set": eval_set,
            "sample_id": ids,
            "label": 1,
            "pred": pred,
            "extra": [{"gen": f"answer {i}"} for i in ids],
        }
    )


def _task(path: Path, run: str, eval_set: str, value: float, pred: int = 1) -> ResultsStore:
    """A store as one SLURM array task writes it: one run on one eval set."""
    store = ResultsStore(path)
    store.put(
        [Cell(run, "m", eval_set, value, 2, extra={"task": run})], _preds(run, eval_set, ["a", "b"], pred)
    )
    return store


def _state(path: Path) -> tuple[str, int, pd.DataFrame, pd.DataFrame]:
    store = ResultsStore(path)
    return (
        hashlib.sha256(path.read_bytes()).hexdigest(),
        path.stat().st_mtime_ns,
        store.cells(),
        store.predictions(),
    )


def _assert_unchanged(path: Path, before: tuple[str, int, pd.DataFrame, pd.DataFrame]) -> None:
    after = _state(path)
    assert after[:2] == before[:2]
    pd.testing.assert_frame_equal(after[2], before[2])
    pd.testing.assert_frame_equal(after[3], before[3])


def test_array_tasks_merge_into_the_union(tmp_path: Path) -> None:
    a = _task(tmp_path / "task0.db", "r0", "world/id", 0.5)
    b = _task(tmp_path / "task1.db", "r1", "world/sketch", 0.25)
    out = ResultsStore(tmp_path / "merged" / "results.db")
    report = merge_stores(out.path, [a.path, b.path])
    cells = out.cells()
    assert sorted(zip(cells["run"], cells["eval_set"], cells["value"], strict=True)) == [
        ("r0", "world/id", 0.5),
        ("r1", "world/sketch", 0.25),
    ]
    # the original stamps and extras are kept, not the time of the merge
    expected = pd.concat([a.cells(), b.cells()], ignore_index=True)
    pd.testing.assert_frame_equal(cells, expected)
    pd.testing.assert_frame_equal(
        out.predictions(), pd.concat([a.predictions(), b.predictions()], ignore_index=True)
    )
    assert len(out.predictions()) == 4 and out.predictions()["extra"].iloc[0] == {"gen": "answer a"}
    assert [(i.cells.added, i.predictions.added, i.cells.identical) for i in report.inputs] == [
        (1, 2, 0),
        (1, 2, 0),
    ]
    assert (report.cells, report.predictions) == (2, 4)


def test_equal_cells_in_several_stores_merge_silently(tmp_path: Path) -> None:
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5)
    time.sleep(0.002)
    b = _task(tmp_path / "b.db", "r0", "world/id", 0.5)  # the same numbers, written later
    assert a.cells()["updated_at"][0] != b.cells()["updated_at"][0]
    report = merge_stores(tmp_path / "out.db", [a.path, b.path])
    second = report.inputs[1]
    assert (second.cells.added, second.cells.identical, second.predictions.identical) == (0, 1, 2)
    assert len(ResultsStore(tmp_path / "out.db").cells()) == 1


def test_conflicting_cell_is_refused_and_out_is_untouched(tmp_path: Path) -> None:
    out = _task(tmp_path / "out.db", "r9", "world/id", 0.75)  # a pre-existing store with good cells
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5)
    b = _task(tmp_path / "b.db", "r0", "world/id", 0.625)
    before = _state(out.path)
    with pytest.raises(MergeConflictError) as info:
        merge_stores(out.path, [a.path, b.path])
    message = str(info.value)
    assert "run='r0'" in message and "eval_set='world/id'" in message and "metric='top1'" in message
    assert f"{a.path} vs {b.path}" in message
    assert "1 row(s) differ" in message  # the predictions are equal (same pred)
    _assert_unchanged(out.path, before)


def test_conflict_with_out_itself_names_out(tmp_path: Path) -> None:
    out = _task(tmp_path / "out.db", "r0", "world/id", 0.75)
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5, pred=0)
    before = _state(out.path)
    with pytest.raises(MergeConflictError, match=f"in {out.path} vs {a.path}") as info:
        merge_stores(out.path, [a.path])
    assert "3 row(s) differ" in str(info.value) and "sample_id='a'" in str(info.value)
    _assert_unchanged(out.path, before)


def test_refused_merge_does_not_create_out(tmp_path: Path) -> None:
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5)
    b = _task(tmp_path / "b.db", "r0", "world/id", 0.625)
    with pytest.raises(MergeConflictError):
        merge_stores(tmp_path / "new" / "out.db", [a.path, b.path])
    assert not (tmp_path / "new").exists()


def test_newer_keeps_the_later_cell_and_the_later_inputs_predictions(tmp_path: Path) -> None:
    b = _task(tmp_path / "b.db", "r0", "world/id", 0.625, pred=1)
    time.sleep(0.002)
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5, pred=0)  # newer cell, listed first
    out = tmp_path / "out.db"
    report = merge_stores(out, [a.path, b.path], on_conflict="newer")
    merged = ResultsStore(out)
    assert merged.cells()["value"].tolist() == [0.5]
    assert merged.cells()["updated_at"][0] == a.cells()["updated_at"][0]
    assert merged.predictions()["pred"].tolist() == [1, 1]  # predictions: the input listed later wins
    assert (report.inputs[1].cells.outdated, report.inputs[1].predictions.replaced) == (1, 2)
    # the other order: b's older cell comes first and is replaced
    report = merge_stores(tmp_path / "out2.db", [b.path, a.path], on_conflict="newer")
    assert ResultsStore(tmp_path / "out2.db").cells()["value"].tolist() == [0.5]
    assert report.inputs[1].cells.replaced == 1


_V1_SCHEMA = """
CREATE TABLE cells (run TEXT NOT NULL, model TEXT NOT NULL, eval_set TEXT NOT NULL, protocol TEXT NOT NULL,
    metric TEXT NOT NULL, step INTEGER NOT NULL, value REAL, n INTEGER, extra TEXT, updated_at TEXT NOT NULL,
    UNIQUE (run, model, eval_set, protocol, metric, step));
CREATE TABLE predictions (run TEXT NOT NULL, model TEXT NOT NULL, eval_set TEXT NOT NULL,
    protocol TEXT NOT NULL, step INTEGER NOT NULL, sample_id TEXT NOT NULL, label INTEGER NOT NULL,
    pred INTEGER NOT NULL, correct INTEGER NOT NULL, score REAL,
    PRIMARY KEY (run, model, eval_set, protocol, step, sample_id));
INSERT INTO predictions VALUES ('old', 'm', 'world/id', 'zeroshot', -1, 's0', 1, 1, 1, NULL);
PRAGMA user_version = 1;
"""


def _version(path: Path, version: int) -> Path:
    """A store of the version-1 layout stamped with schema ``version``."""
    with sqlite3.connect(path) as conn:
        conn.executescript(_V1_SCHEMA.replace("user_version = 1", f"user_version = {version}"))
    return path


def test_other_versions_and_foreign_files_are_refused(tmp_path: Path) -> None:
    out = _task(tmp_path / "out.db", "r9", "world/id", 0.75)
    before = _state(out.path)
    _version(tmp_path / "v1.db", 1)
    _version(tmp_path / "v99.db", 99)
    with sqlite3.connect(tmp_path / "foreign.db") as conn:
        conn.execute("CREATE TABLE users (name TEXT)")
    (tmp_path / "text.db").write_text("not a database at all, just some text" * 10)
    good = _task(tmp_path / "good.db", "r0", "world/id", 0.5)
    with pytest.raises(StoreError, match=r"v1\.db has schema version 1"):
        merge_stores(out.path, [good.path, tmp_path / "v1.db"])
    with pytest.raises(StoreError, match=r"v99\.db has schema version 99.*upgrade vlmrobust-core"):
        merge_stores(out.path, [good.path, tmp_path / "v99.db"])
    with pytest.raises(StoreError, match=r"foreign\.db is a SQLite file with tables \['users'\]"):
        merge_stores(out.path, [good.path, tmp_path / "foreign.db"])
    with pytest.raises(StoreError, match=r"text\.db: cannot read it as a results store"):
        merge_stores(out.path, [good.path, tmp_path / "text.db"])
    with pytest.raises(FileNotFoundError, match="no such results store"):
        merge_stores(out.path, [good.path, tmp_path / "missing.db"])
    _assert_unchanged(out.path, before)


def test_version_1_out_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    out = _version(tmp_path / "out.db", 1)
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5)
    merge_stores(out, [a.path])
    got = ResultsStore(out).predictions()
    assert got["run"].tolist() == ["old", "r0", "r0"] and got["extra"].tolist()[0] is None


def test_out_and_repeated_inputs_are_skipped(tmp_path: Path) -> None:
    out = _task(tmp_path / "out.db", "r9", "world/id", 0.75)
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5)
    report = merge_stores(out.path, [out.path, a.path, tmp_path / "." / "a.db"])
    assert [i.path for i in report.inputs] == [a.path] and len(report.skipped) == 2
    assert report.cells == 2 and len(out.cells()) == 2


def test_unknown_on_conflict_suggests(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="newer"):
        merge_stores(tmp_path / "out.db", [], on_conflict="newr")  # type: ignore[arg-type]


def test_cli_merges_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5)
    b = _task(tmp_path / "b.db", "r1", "world/id", 0.25)
    out = tmp_path / "out.db"
    assert cli(["merge", str(out), str(a.path), str(b.path)]) == 0
    text = capsys.readouterr().out
    assert f"into {out}" in text and "it holds 2 cells, 4 predictions and 0 runs" in text
    assert f"{b.path}: 1 cells added, 0 identical, 0 replaced; 2 predictions added" in text
    assert len(text.strip().splitlines()) == 1


def test_cli_refuses_a_conflict_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _task(tmp_path / "a.db", "r0", "world/id", 0.5)
    b = _task(tmp_path / "b.db", "r0", "world/id", 0.625)
    out = tmp_path / "out.db"
    assert cli(["merge", str(out), str(a.path), str(b.path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vlmrobust merge: error: 1 row(s) differ") and err.count("\n") == 1
    assert str(a.path) in err and str(b.path) in err and not out.exists()
    assert cli(["merge", str(out), str(a.path), str(b.path), "--on-conflict", "newer"]) == 0
    assert ResultsStore(out).cells()["value"].tolist() == [0.625]
    assert cli(["merge", str(out), str(a.path), "--on-conflict", "oldest"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert os.path.exists(out)


def test_runs_recorded_on_several_hosts_merge_once_and_conflicting_configs_are_refused(
    tmp_path: Path,
) -> None:
    from vlmrobust.core.runs import run_key

    config = {"model": {"lr": 0.1}, "seed_everything": 0}
    key = run_key("fit", config)
    a, b = ResultsStore(tmp_path / "host0.db"), ResultsStore(tmp_path / "host1.db")
    a.put_run(key, "fit", config)
    time.sleep(0.01)  # another created_at
    b.put_run(key, "fit", config)
    other = {"model": {"lr": 0.2}, "seed_everything": 0}
    b.put_run(run_key("fit", other), "fit", other)
    report = merge_stores(tmp_path / "all.db", [a.path, b.path])
    merged = ResultsStore(tmp_path / "all.db").runs()
    assert merged["run"].tolist() == [key, run_key("fit", other)]
    assert merged["created_at"].iloc[0] == a.runs()["created_at"].iloc[0]  # the first source's row kept
    assert (report.inputs[1].runs.identical, report.inputs[1].runs.added, report.runs) == (1, 1, 2)
    with sqlite3.connect(b.path) as conn:  # the same key with another config
        conn.execute('UPDATE runs SET config = \'{"model": {"lr": 9}}\' WHERE run = ?', (key,))
    with pytest.raises(MergeConflictError, match=f"run run={key!r}"):
        merge_stores(tmp_path / "refused.db", [a.path, b.path])
    assert not (tmp_path / "refused.db").exists()
