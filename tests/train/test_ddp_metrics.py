"""Under DDP with 2 CPU processes, logged and stored accuracies equal the single-process ones exactly, and
the console shows one accuracy table and no per-key ``sync_dist`` advice."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vlmrobust.core.store import ResultsStore
from vlmrobust.train import cli

ROOT = Path(__file__).parents[2]
CONFIG = ROOT / "configs" / "fit" / "quickstart.yaml"
EVAL_SIZE = 37  # odd: DistributedSampler pads one rank with a duplicate of sample 0


def _validate(
    workdir: Path, devices: int, launcher: list[str] | None = None
) -> tuple[dict[str, float], dict[str, tuple[float, int]], str]:
    """Run `validate` of the quickstart config in ``workdir``; return (logged metrics, stored cells, console)."""
    workdir.mkdir()
    launcher = launcher or [sys.executable, "-m", "vlmrobust.train.cli"]
    strategy = "ddp" if devices > 1 else "auto"
    cmd = [
        *launcher,
        *f"validate --config {CONFIG} --trainer.devices {devices} --trainer.strategy {strategy}".split(),
        *f"--trainer.logger lightning.pytorch.loggers.CSVLogger --trainer.logger.save_dir {workdir}".split(),
        *f"--trainer.logger.name csv --data.init_args.eval_size {EVAL_SIZE}".split(),
        *["--data.init_args.eval_batch_size", "8", "--data.init_args.train_size", "16"],
    ]
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with open(workdir / "csv" / "version_0" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    logged = {k: float(v) for row in rows for k, v in row.items() if v not in ("", None) and k != "step"}
    cells = ResultsStore(workdir / "outputs" / "fit" / "results.db").cells()
    stored = {(r.eval_set, r.protocol, r.metric): (r.value, r.n) for r in cells.itertuples()}
    return logged, stored, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def single_process(tmp_path_factory):
    """Logged metrics and stored cells of the same validation in one process (the reference)."""
    return _validate(tmp_path_factory.mktemp("ddp") / "single", devices=1)


@pytest.mark.slow
def test_ddp_two_processes_match_single_process(tmp_path, single_process):
    logged_1, stored_1, _ = single_process
    logged_2, stored_2, console = _validate(tmp_path / "ddp", devices=2)
    assert console.count("Accuracies at step") == 1  # printed by rank 0 only, once for all loaders
    assert "sync_dist" not in console and "LeafSpec" not in console  # the callback gathers exactly itself
    assert any(k.startswith("robustness/") and k.endswith("/ood_acc") for k in logged_1)
    assert logged_1 == logged_2  # exact equality, every logged key
    assert stored_1 == stored_2
    assert {n for _, n in stored_2.values()} == {EVAL_SIZE}  # the padded duplicate is counted once


@pytest.mark.slow
def test_fabric_run_launches_the_cli(tmp_path, single_process):
    """`fabric run` (the current `lightning run model`) starts 2 processes of the CLI script."""
    fabric = [str(Path(sys.executable).with_name("fabric")), "run", "--accelerator", "cpu", "--devices", "2"]
    logged_1, stored_1, _ = single_process
    logged_2, stored_2, _ = _validate(tmp_path / "fabric", devices=2, launcher=[*fabric, str(cli.__file__)])
    assert logged_1 == logged_2 and stored_1 == stored_2
