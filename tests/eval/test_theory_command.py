"""`vlmrobust theory`: writes the simulation, the figure and the predicted-vs-fitted summary."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vlmrobust.eval.commands.theory import main


def test_theory_command_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "theory"
    argv = ["--out", str(out), "--ns", "50", "200", "800", "3200", "--xis", "0.5", "1", "2",
            "--reps", "2", "--angle-id", "0", "--angle-ood", "60", "--rho-id", "2", "--rho-ood", "2"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    df = pd.read_csv(out / "theory.csv")
    summary = json.loads((out / "theory.json").read_text())
    assert len(df) == 4 * 3 * 2 and {"n", "xi", "rep", "id_acc", "ood_acc"} <= set(df.columns)
    # Predicted slope by hand: ρ_OOD cos 60° / (ρ_ID cos 0°) = 0.5.
    assert summary["predicted_slope"] == pytest.approx(0.5)
    slope, intercept = np.polyfit(norm.ppf(df.id_acc), norm.ppf(df.ood_acc), 1)
    assert summary["fitted_slope"] == pytest.approx(slope, abs=1e-9)
    assert abs(slope / 0.5 - 1) < 0.03 and summary["r2"] >= 0.99
    assert "predicted slope 0.5000" in printed and f"fitted slope {slope:.4f}" in printed and "R²" in printed
    assert (out / "theory.png").stat().st_size > 10_000
    assert summary["config"]["ns"] == [50, 200, 800, 3200] and not math.isnan(intercept)


def test_theory_command_rejects_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path), "--angle-ood", "120"]) == 2
    assert "angles" in capsys.readouterr().err
    assert main(["--out", str(tmp_path), "--d", "many"]) == 2  # argparse's own error, as an exit code
