"""`vlmrobust fit` on the quickstart config: a quiet console, a step-counting bar, one accuracy table."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_fit_prints_its_accuracy_table_once_and_no_library_warning(tmp_path):
    args = ["fit", "--config", str(ROOT / "configs/fit/quickstart.yaml"), "--trainer.max_steps", "4",
            "--trainer.val_check_interval", "2", "--trainer.default_root_dir", str(tmp_path),
            "--trainer.logger.init_args.save_dir", str(tmp_path), "--data.init_args.train_size", "32",
            "--data.init_args.eval_size", "8", "--data.init_args.batch_size", "8",
            "--data.init_args.shifts", "[sketch]", "--trainer.callbacks.init_args.results_db",
            str(tmp_path / "results.db")]  # fmt: skip
    env = {**os.environ, "WANDB_MODE": "offline", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "vlmrobust.train.cli", *args], capture_output=True, text=True, env=env,
        cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    console = done.stdout + done.stderr
    assert done.stdout.count("Accuracies at step 4") == 1  # once, after fit, not per validation or loader
    table = done.stdout.split("Accuracies at step 4", 1)[1]
    assert "world/id" in table and "world/sketch" in table and "zeroshot/dataset" in table
    for noise in (
        "Warning",
        "warn(",
        "LeafSpec",
        "💡 Tip",
        "anonymous",
        "args parameter is intended",
        "Epoch 0/-",
    ):
        assert noise not in console, noise
    assert "step: 100%" in console and "4/4" in console  # the bar counts steps up to max_steps
    log = (tmp_path / "vlmrobust.log").read_text()
    assert "LeafSpec" in log or "Tip" in log or "deprecated" in log  # the noise went to the log file
