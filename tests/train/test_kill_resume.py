"""A fit killed with SIGKILL at a random step and resumed from its last checkpoint ends with the same weights
(bitwise, CPU, deterministic mode), the same per-step losses and the same stored accuracies as an
uninterrupted fit: mid-epoch resume re-reads exactly the remaining batches with the same augmentations."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vlmrobust.core.store import ResultsStore

SCRIPT = Path(__file__).parent / "scripts" / "resumable_fit.py"
STEPS = 10  # 4 batches per epoch: the kill lands in the first or second epoch, the run ends mid-epoch 2


def _run(root: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    return subprocess.run([sys.executable, str(SCRIPT), str(root), str(STEPS), *extra], env=env,
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip


def _losses(root: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (root / "losses.jsonl").read_text().splitlines()]
    return {
        r["step"]: r["loss"] for r in rows
    }  # a step logged twice (before and after the kill) keeps the last


def _kill_at(root: Path, step: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline"}
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(root), str(STEPS)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    target = root / "ckpts" / f"step={step}.ckpt"
    deadline = time.monotonic() + 240
    while not target.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the fit ended before step {step}: {proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no checkpoint of step {step} within 240 s")
        time.sleep(0.01)
    proc.kill()  # SIGKILL, wherever the fit is now (maybe inside the next step or checkpoint write)
    proc.wait()
    assert proc.returncode == -9
    assert not (root / "final.safetensors").exists()


@pytest.mark.slow
def test_kill_9_and_resume_equals_an_uninterrupted_fit(tmp_path) -> None:
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    _run(whole)
    step = random.Random(int(time.time())).randint(2, 7)  # a random step, reported on failure
    _kill_at(killed, step)
    _run(killed, "--resume")
    a, b = load_file(str(whole / "final.safetensors")), load_file(str(killed / "final.safetensors"))
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"killed at step {step}: tensors differ after resume: {differ[:5]}"
    assert _losses(killed) == _losses(whole), f"killed at step {step}"
    top1 = {r: ResultsStore(r / "results.db").cells(metric="top1", step=STEPS) for r in (whole, killed)}
    assert top1[whole]["value"].tolist() == top1[killed]["value"].tolist() and len(top1[whole]) == 2
