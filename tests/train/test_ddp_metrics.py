"""Under DDP with 2 CPU processes, logged and stored accuracies equal the single-process ones exactly."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vlmrobust.core.store import ResultsStore

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "configs" / "fit" / "quickstart.yaml"
EVAL_SIZE = 37  # odd: DistributedSampler pads one rank with a duplicate of sample 0


def _validate(workdir: Path, devices: int) -> tuple[dict[str, float], dict[str, tuple[float, int]]]:
    workdir.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "vlmrobust.train.cli",
        "validate",
        "--config",
        str(CONFIG),
        "--trainer.devices",
        str(devices),
        "--trainer.strategy",
        "ddp" if devices > 1 else "auto",
        "--trainer.logger",
        "lightning.pytorch.loggers.CSVLogger",
        "--trainer.logger.save_dir",
        str(workdir),
        "--trainer.logger.name",
        "csv",
        "--data.init_args.eval_size",
        str(EVAL_SIZE),
        "--data.init_args.eval_batch_size",
        "8",
        "--data.init_args.train_size",
        "16",
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(workdir / "csv" / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    logged = {k: float(v) for row in rows for k, v in row.items() if v not in ("", None) and k != "step"}
    cells = ResultsStore(workdir / "outputs" / "fit" / "results.db").cells()
    stored = {r.eval_set: (r.value, r.n) for r in cells.itertuples()}
    return logged, stored


@pytest.mark.slow
def test_ddp_two_processes_match_single_process(tmp_path):
    logged_1, stored_1 = _validate(tmp_path / "single", devices=1)
    logged_2, stored_2 = _validate(tmp_path / "ddp", devices=2)
    assert any(k.startswith("robustness/") and k.endswith("/ood_acc") for k in logged_1)
    assert logged_1 == logged_2  # exact equality, every logged key
    assert stored_1 == stored_2
    assert {n for _, n in stored_2.values()} == {EVAL_SIZE}  # the padded duplicate is counted once
