"""A shrunken quickstart runs end to end, writes every output, logs offline W&B runs and resumes."""

import json
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import norm

from vlmrobust.core.store import ResultsStore
from vlmrobust.eval.wandb_files import read_history
from vlmrobust.train import quickstart

RUNS = ("tinyclip-n32-s0", "tinyclip-n32-s1", "tinyclip-n32-s2")


@pytest.mark.slow
def test_quickstart_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "qs"
    # three seeds so that a tie of ID accuracies (no line to fit) is practically impossible
    argv = f"--out {out} --train-sizes 32 --seeds 0 1 2 --max-steps 12 --eval-size 48 --shifts sketch pose".split()
    assert quickstart.main(argv) == 0

    for name in ("results.db", "effective_robustness.csv", "lines.json", "robustness_lines.png"):
        assert (out / name).is_file(), name
    er = pd.read_csv(out / "effective_robustness.csv")
    assert list(er.columns[:6]) == [
        "model",
        "ood",
        "id_acc",
        "ood_acc",
        "predicted_ood_acc",
        "effective_robustness",
    ]
    assert set(er["ood"]) == {"world/sketch", "world/pose"}
    assert set(er["model"]) == set(RUNS)
    lines = json.loads((out / "lines.json").read_text())
    assert set(lines) == {"world/sketch", "world/pose"} and all(v["n"] == 3 for v in lines.values())

    store = ResultsStore(out / "results.db")
    runs_table = store.runs()
    names = dict(zip(runs_table["run"], runs_table["name"], strict=True))  # run key -> name
    assert sorted(names.values()) == list(RUNS)
    assert all(key.startswith(f"{name}-") and len(key) == len(name) + 11 for key, name in names.items())
    assert runs_table["config"].iloc[0]["lr"] == quickstart.QuickstartConfig.lr
    all_cells = store.cells()
    all_cells["run"] = all_cells["run"].map(names)
    assert set(all_cells["metric"]) == {"top1", "top5", "per_class_mean"}
    assert set(all_cells["protocol"]) == {"zeroshot/dataset"}
    cells = all_cells[all_cells["metric"] == "top1"]
    assert len(cells) == 3 * 3 and set(cells["step"]) == {12} and set(cells["n"]) == {48}
    # the stored ID/OOD accuracies are exactly those the CSV reports
    stored = cells.set_index(["run", "eval_set"])["value"]
    for row in er.itertuples():
        assert row.id_acc == pytest.approx(stored[(row.model, "world/id")], abs=1e-12)
        assert row.ood_acc == pytest.approx(stored[(row.model, row.ood)], abs=1e-12)
    key0 = next(k for k, n in names.items() if n == "tinyclip-n32-s0")
    preds = store.predictions(run=key0, eval_set="world/pose")
    assert len(preds) == 48 and preds["correct"].mean() == pytest.approx(
        stored[("tinyclip-n32-s0", "world/pose")]
    )

    runs = sorted(Path(out / "wandb").glob("offline-run-*"))
    assert len(runs) == 3
    logged = {}
    for run_dir in runs:
        history = read_history(run_dir)
        row = next(r for r in history if "robustness/world.pose/ood_acc" in r)
        table = json.loads(next((run_dir / "files").rglob("pairs_*.table.json")).read_text())
        assert table["columns"][:4] == ["step", "shift", "id_acc", "ood_acc"] and len(table["data"]) == 2
        logged[row["robustness/world.pose/ood_acc"]] = row["robustness/world.pose/ood_probit"]
    # each W&B run logged its stored OOD accuracy and the probit of it
    for run in RUNS:
        acc = stored[(run, "world/pose")]
        assert any(abs(a - acc) < 1e-6 and abs(p - norm.ppf(acc)) < 1e-5 for a, p in logged.items())

    capsys.readouterr()
    assert quickstart.main(argv) == 0  # resume: every run already in results.db with the same settings
    printed = capsys.readouterr().out
    assert printed.count("already in results.db with these settings, reused") == 3
    assert len(sorted(Path(out / "wandb").glob("offline-run-*"))) == 3

    # changing a setting trains new runs and reports them, not the stored step-12 numbers
    changed = [*argv, "--seeds", "0", "1", "--max-steps", "6", "--lr", "0.05"]  # later flags win
    assert quickstart.main(changed) == 0
    printed = capsys.readouterr().out
    assert printed.count("settings differ from the stored run in") == 2
    assert "lr (0.002 -> 0.05)" in printed and "max_steps (12 -> 6)" in printed
    assert "reused" not in printed
    new = store.runs()
    assert len(new) == 5 and set(new["name"]) == set(RUNS)
    new_keys = set(new["run"]) - set(names)
    er = pd.read_csv(out / "effective_robustness.csv")
    assert set(er["model"]) == {"tinyclip-n32-s0", "tinyclip-n32-s1"}
    fresh = store.cells(metric="top1", run=sorted(new_keys)).set_index(["run", "eval_set"])["value"]
    assert set(store.cells(run=sorted(new_keys))["step"]) == {6}
    for row in er.itertuples():
        key = next(k for k in new_keys if k.startswith(f"{row.model}-"))
        assert row.id_acc == pytest.approx(fresh[(key, "world/id")], abs=1e-12)


def test_quickstart_needs_two_runs(tmp_path, capsys):
    assert quickstart.main(["--out", str(tmp_path), "--train-sizes", "32", "--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert "vlmrobust quickstart: error: a robustness line needs at least 2 runs" in err
    assert "Traceback" not in err
