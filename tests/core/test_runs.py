"""Run identity: config hashes, run keys, config diffs, and the store's runs table."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from vlmrobust.core.errors import CLIError
from vlmrobust.core.runs import config_diff, config_hash, describe_diff, identity_config, run_key
from vlmrobust.core.store import SCHEMA_VERSION, Cell, ResultsStore, StoreError

CONFIG = {
    "seed_everything": 0,
    "model": {"class_path": "CLIPFineTune", "init_args": {"model": "open_clip:tiny", "lr": 0.002}},
    "data": {"class_path": "WorldDataModule", "init_args": {"seed": 0, "num_workers": 2}},
    "trainer": {"max_steps": 500, "logger": {"class_path": "WandbLogger"}, "enable_progress_bar": True,
                "callbacks": [{"class_path": "RobustnessCallback", "init_args": {"results_db": "a.db", "run_name": "x"}}]},
    "config": ["configs/fit/quickstart.yaml"],
}  # fmt: skip


def test_hash_is_sha256_of_the_canonical_identity_json() -> None:
    identity = {
        "seed_everything": 0,
        "model": {"class_path": "CLIPFineTune", "init_args": {"model": "open_clip:tiny", "lr": 0.002}},
        "data": {"class_path": "WorldDataModule", "init_args": {"seed": 0}},
        "trainer": {"max_steps": 500, "callbacks": [{"class_path": "RobustnessCallback", "init_args": {}}]},
    }
    assert identity_config(CONFIG) == identity
    blob = json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    assert config_hash(CONFIG) == hashlib.sha256(blob).hexdigest()[:10]
    assert run_key("quickstart-fit", CONFIG) == f"quickstart-fit-{hashlib.sha256(blob).hexdigest()[:10]}"


@pytest.mark.parametrize(
    ("path", "value"),
    [("model.init_args.lr", 0.05), ("data.init_args.seed", 7), ("trainer.max_steps", 50),
     ("model.init_args.model", "open_clip:other"), ("seed_everything", 1)],
)  # fmt: skip
def test_every_identity_value_changes_the_key(path: str, value: object) -> None:
    changed = json.loads(json.dumps(CONFIG))
    node = changed
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    assert run_key("r", changed) != run_key("r", CONFIG)
    assert [k for k, _, _ in config_diff(CONFIG, changed)] == [path]


def test_output_locations_loggers_and_key_order_do_not_change_the_key() -> None:
    moved = json.loads(json.dumps(CONFIG))
    moved["trainer"]["logger"] = False
    moved["trainer"]["enable_progress_bar"] = False
    moved["trainer"]["callbacks"][0]["init_args"] = {"run_name": "y", "results_db": "b.db"}
    moved["data"]["init_args"]["num_workers"] = 8
    moved["config"] = ["other.yaml"]
    reordered = dict(reversed(list(moved.items())))
    assert run_key("r", reordered) == run_key("r", CONFIG)
    assert config_diff(CONFIG, reordered) == []


def test_canonical_types_paths_tuples_and_unknown_objects() -> None:
    assert identity_config({"a": (1, 2), "p": Path("/x/y"), "f": float("nan")}) == {
        "a": [1, 2],
        "p": "/x/y",
        "f": "nan",
    }
    assert config_hash({"a": (1, 2)}) == config_hash({"a": [1, 2]})
    with pytest.raises(ValueError, match="non-empty name"):
        run_key("", CONFIG)


def test_describe_diff_names_keys_and_values() -> None:
    diff = config_diff({"lr": 0.002, "seed": 0}, {"lr": 0.05, "seed": 0, "steps": 50})
    assert diff == [("lr", 0.002, 0.05), ("steps", None, 50)]
    assert describe_diff(diff) == "lr (0.002 -> 0.05), steps (null -> 50)"
    assert describe_diff(diff, limit=1) == "lr (0.002 -> 0.05) and 1 more"


def test_store_keeps_each_runs_identity_config_once(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "r.db")
    key = run_key("fit", CONFIG)
    assert store.put_run(key, "fit", CONFIG) is True
    assert store.put_run(key, "fit", CONFIG) is False  # identical: reused
    other = {**CONFIG, "seed_everything": 3}
    store.put_run(run_key("fit", other), "fit", other)
    runs = store.runs(name="fit")
    assert runs["run"].tolist() == [key, run_key("fit", other)]
    assert runs["config"].tolist()[0] == identity_config(CONFIG)
    assert runs["config_hash"].tolist()[1] == config_hash(other)
    with pytest.raises(StoreError, match="is not the key of name 'fit'"):
        store.put_run(key, "fit", other)


def test_a_version_2_file_is_read_without_runs_and_upgraded_on_write(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    store = ResultsStore(path)
    store.put([Cell("r", "m", "id", 0.5, 2)])
    with sqlite3.connect(path) as conn:  # make it what a version-2 writer left
        conn.execute("DROP TABLE runs")
        conn.execute("PRAGMA user_version = 2")
    assert store.cells()["value"].tolist() == [0.5]
    assert store.runs().empty
    store.put_run(run_key("n", CONFIG), "n", CONFIG)
    assert store.schema_version() == SCHEMA_VERSION == 3
    assert store.runs()["name"].tolist() == ["n"] and store.cells()["value"].tolist() == [0.5]


def test_list_runs_shows_keys_cells_steps_and_what_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vlmrobust.core.runs_cli import list_main

    store = ResultsStore(tmp_path / "r.db")
    other = {**CONFIG, "seed_everything": 3}
    for config in (CONFIG, other):
        key = run_key("fit", config)
        store.put_run(key, "fit", config)
        store.put([Cell(key, "m", "world/id", 0.5, 2, step=s) for s in (10, 20)])
    assert list_main(["--db", str(store.path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["run", "created", "(UTC)", "cells", "last", "step"]
    assert out[1].split()[0] == run_key("fit", CONFIG) and out[1].split()[-2:] == ["2", "20"]
    assert out[3].strip() == "differs from the previous 'fit' run in seed_everything (0 -> 3)"
    assert list_main(["--db", str(store.path), "--name", "fit", "--config"]) == 0
    assert '"lr": 0.002' in capsys.readouterr().out
    assert list_main(["--db", str(store.path), "--name", "nope"]) == 0
    assert "no recorded runs named 'nope'" in capsys.readouterr().out
    with pytest.raises(CLIError, match="no such results store"):
        list_main(["--db", str(tmp_path / "missing.db")])
