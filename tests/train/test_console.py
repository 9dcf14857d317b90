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


def test_uncached_weights_fail_fit_with_one_line(tmp_path, capsys, monkeypatch):
    from vlmrobust.train.cli import fit_main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    args = ["--config", str(ROOT / "configs/fit/quickstart.yaml"), "--trainer.logger", "false",
            "--model.init_args.model", "open_clip:ViT-B-32@openai"]  # fmt: skip
    assert fit_main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[-1].startswith("vlmrobust fit: error: open_clip weights ViT-B-32@openai")
    assert "hf download" in err[-1] and not any("Traceback" in line or "Union" in line for line in err)


def test_continuation_choice_accepts_only_its_rules():
    import torch

    from vlmrobust.models.protocols import ContinuationScores

    scores = ContinuationScores(torch.tensor([-3.0, -1.0]), torch.tensor([-0.5, -1.0]), torch.tensor([6, 1]))
    assert (scores.choice("sum"), scores.choice("mean")) == (1, 0)
    with pytest.raises(ValueError, match=r"'num_tokens'.*'sum' or 'mean'"):
        scores.choice("num_tokens")  # type: ignore[arg-type]
