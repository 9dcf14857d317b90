"""`vlmrobust eval` end to end: shipped configs, a SIGKILLed run resumed, 2-process DDP, bad input."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from vlmrobust.core.cli import main as vlmrobust
from vlmrobust.core.store import ResultsStore
from vlmrobust.eval.commands.eval import build_parser

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "eval").glob("*.yaml"))


def _config(tmp_path: Path, name: str = "c.yaml", **over) -> Path:
    cfg = yaml.safe_load((ROOT / "configs/eval/world_tiny.yaml").read_text())
    cfg.update(results_db=str(tmp_path / "results.db"), progress=False)
    for key, value in over.items():
        if key == "data":
            cfg["data"]["init_args"].update(value)
        else:
            cfg[key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_shipped_config_parses(config):
    header = config.read_text().splitlines()[0]
    assert header.startswith("# vlmrobust eval --config configs/eval/") or header.startswith("# torchrun")
    cfg = build_parser().parse_args(["--config", str(config)])
    assert cfg.models and cfg.protocols


def test_world_tiny_runs_as_shipped_and_prints_cells(tmp_path, capsys):
    assert vlmrobust(["eval", "--config", str(_config(tmp_path, data={"eval_size": 20}))]) == 0
    out = capsys.readouterr().out
    assert "9 cells written" in out and "world/sketch" in out  # top1, top5, per_class_mean x 3 sets
    cells = ResultsStore(tmp_path / "results.db").cells(metric="top1")
    assert sorted(cells["eval_set"]) == ["world/id", "world/pose", "world/sketch"]


def test_bad_input_is_one_clear_line(tmp_path, capsys):
    bad = _config(tmp_path, protocols=[{"class_path": "vlmrobust.eval.protocols.ZeroShotClasification"}])
    assert vlmrobust(["eval", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "ZeroShotClasification" in err and "Did you mean 'ZeroShotClassification'" in err
    models = [{"spec": "open_clip:vlmrobust-tiny-clip", "seed": 0}, {"spec": "open_clip:vlmrobust-tiny-clp"}]
    unknown = _config(tmp_path, "u.yaml", models=models)
    assert vlmrobust(["eval", "--config", str(unknown)]) == 2
    assert "vlmrobust-tiny-clip" in capsys.readouterr().err  # did-you-mean
    assert not (tmp_path / "results.db").exists()


def _cells(db: Path):
    df = ResultsStore(db).cells().drop(columns="updated_at").sort_values(["eval_set", "metric"])
    return df.values.tolist()


def _preds(db: Path):
    df = ResultsStore(db).predictions().sort_values(["eval_set", "sample_id"])
    return df.values.tolist()


@pytest.mark.slow
def test_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path):
    # A ViT-B-32-sized random-init model at 224 px keeps the run busy long enough to kill it mid-way.
    over = {"models": [{"spec": "open_clip:ViT-B-32", "seed": 0}], "chunk_size": 8, "batch_size": 8,
            "data": {"eval_size": 48}}  # fmt: skip
    killed, ref = tmp_path / "killed", tmp_path / "ref"
    killed.mkdir(), ref.mkdir()
    cfg_killed = _config(killed, **over)
    cmd = [sys.executable, "-m", "vlmrobust.core.cli", "eval", "--config", str(cfg_killed)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = killed / "results.db"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(db, timeout=1) as conn:
                n = conn.execute("SELECT count(*) FROM predictions").fetchone()[0]
        except sqlite3.OperationalError:
            n = 0
        if n >= 16:
            break
        time.sleep(0.05)
    assert proc.poll() is None, (
        f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    )
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = ResultsStore(db)
    assert len(partial.cells(metric="top1")) < 3 and len(partial.predictions()) < 144
    subprocess.run(cmd, env=_env(), check=True, capture_output=True)
    subprocess.run(
        [sys.executable, "-m", "vlmrobust.core.cli", "eval", "--config", str(_config(ref, **over))],
        env=_env(), check=True, capture_output=True,
    )  # fmt: skip
    assert _cells(db) == _cells(ref / "results.db")
    assert _preds(db) == _preds(ref / "results.db")
    assert len(ResultsStore(db).predictions()) == 144


@pytest.mark.slow
def test_two_process_ddp_equals_one_process(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    single.mkdir(), ddp.mkdir()
    over = {"data": {"eval_size": 37}, "chunk_size": 10, "batch_size": 4}  # odd sizes: uneven rank shares
    subprocess.run([sys.executable, "-m", "vlmrobust.core.cli", "eval", "--config", str(_config(single, **over))],
                   env=_env(), check=True, capture_output=True)  # fmt: skip
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "29531",
                "-m", "vlmrobust.eval.commands.eval", "--config", str(_config(ddp, **over))]  # fmt: skip
    result = subprocess.run(torchrun, env=_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _preds(ddp / "results.db") == _preds(single / "results.db")
    assert _cells(ddp / "results.db") == _cells(single / "results.db")


def test_wandb_run_holds_a_table_of_the_cells(tmp_path, monkeypatch):
    import json

    from vlmrobust.eval.wandb_files import read_history

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.chdir(tmp_path)
    assert (
        vlmrobust(["eval", "--config", str(_config(tmp_path, data={"eval_size": 10})), "--wandb", "true"])
        == 0
    )
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    (row,) = read_history(run_dir)
    assert row["eval/cells/_type"] == "table-file"
    assert row["eval/cells/nrows"] == 9  # 3 sets x (top1, top5, per_class_mean)
    table_file = run_dir / "files" / row["eval/cells/path"]
    data = json.loads(table_file.read_text())
    assert data["columns"] == ["model", "eval_set", "protocol", "metric", "step", "value", "n"]
    stored = ResultsStore(tmp_path / "results.db").cells()
    assert sorted(r[5] for r in data["data"]) == sorted(stored["value"])


def test_eval_runs_are_keyed_by_their_data_and_a_model_name_keeps_its_spec(tmp_path, capsys):
    from vlmrobust.core.runs import run_key
    from vlmrobust.eval.commands.eval import eval_identity

    cfg = _config(tmp_path, data={"eval_size": 12})
    assert vlmrobust(["eval", "--config", str(cfg)]) == 0
    assert vlmrobust(["eval", "--config", str(cfg)]) == 0  # identical: the same run, every cell skipped
    assert "0 cells written, 3 finished" in capsys.readouterr().out
    store = ResultsStore(tmp_path / "results.db")
    [key] = store.runs()["run"].tolist()
    parsed = build_parser().parse_args(["--config", str(cfg)])
    assert key == run_key(parsed.run, eval_identity(parsed))
    assert set(store.cells()["run"]) == {key}

    assert (
        vlmrobust(
            ["eval", "--config", str(_config(tmp_path, "seed.yaml", data={"eval_size": 12, "seed": 5}))]
        )
        == 0
    )
    runs = store.runs()
    assert len(runs) == 2 and runs["name"].nunique() == 1  # other data: a new run, nothing skipped
    assert (
        "3 cells written" in capsys.readouterr().out.split("top1")[0] or len(store.cells(metric="top1")) == 6
    )
    assert runs["config"].iloc[1]["data"]["init_args"]["seed"] == 5

    renamed = _config(tmp_path, "spec.yaml", data={"eval_size": 12},
                      models=[{"spec": "open_clip:vlmrobust-tiny-sigmoid-clip", "name": "open_clip:vlmrobust-tiny-clip", "seed": 0}])  # fmt: skip
    assert vlmrobust(["eval", "--config", str(renamed)]) == 2
    assert (
        "is stored from spec 'open_clip:vlmrobust-tiny-clip', not 'open_clip:vlmrobust-tiny-sigmoid-clip'"
        in capsys.readouterr().err
    )
