"""`vlmrobust line` end to end on small tables, checked against closed-form OLS computed here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vlmrobust.core.store import Cell, ResultsStore
from vlmrobust.eval.commands import line as line_command
from vlmrobust.eval.commands.line import main, plot_file_names

COLUMNS = ["model", "ood", "id_acc", "ood_acc", "predicted_ood_acc", "effective_robustness"]
TABLE = pd.DataFrame(
    {
        "model": ["r18", "r34", "r50", "r101", "vit", "clip", "vlm"],
        "val": [69.8, 73.3, 76.1, 77.4, 81.1, 68.3, 74.0],
        "v2/matched": [57.1, 61.2, 63.2, 65.7, 69.9, 61.9, 66.5],
        "sketch": [20.2, 23.5, np.nan, 27.6, 31.0, 42.3, 45.0],
        "notes": ["", "", "", "", "", "zero-shot", ""],
    }
)
BASELINE = ["r18", "r34", "r50", "r101", "vit"]


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Closed-form OLS, written out: slope = cov(x, y) / var(x)."""
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    return slope, y.mean() - slope * x.mean()


def _write_inputs(tmp_path: Path, table: pd.DataFrame) -> tuple[Path, Path]:
    csv = tmp_path / "table.csv"
    table.to_csv(csv, index=False)
    models = tmp_path / "baseline.txt"
    models.write_text("# ImageNet-only models\n\n" + "\n".join(f"{m}  # std" for m in BASELINE) + "\n")
    return csv, models


@pytest.mark.parametrize("scale", [1.0, 0.01], ids=["percent", "fraction"])
def test_line_reproduces_closed_form(
    tmp_path: Path, scale: float, capsys: pytest.CaptureFixture[str]
) -> None:
    table = TABLE.copy()
    for col in ("val", "v2/matched", "sketch"):
        table[col] = table[col] * scale
    csv, models = _write_inputs(tmp_path, table)
    out = tmp_path / "out"
    argv = [
        "--csv",
        str(csv),
        "--id",
        "val",
        "--ood",
        "v2/matched",
        "--ood",
        "sketch",
        "--baseline",
        str(models),
    ]
    code = main([*argv, "--transform", "probit", "--out", str(out), "--n-boot", "200"])
    assert code == 0
    assert "v2/matched: slope" in capsys.readouterr().out

    eff = pd.read_csv(out / "effective_robustness.csv")
    lines = json.loads((out / "lines.json").read_text())
    assert list(eff.columns[:6]) == COLUMNS
    full = 100.0 if scale == 1.0 else 1.0  # accuracies in the table's units
    for ood in ("v2/matched", "sketch"):
        rows = table.dropna(subset=[ood])
        base = rows[rows.model.isin(BASELINE)]
        slope, intercept = _ols(norm.ppf(base.val / full), norm.ppf(base[ood] / full))
        assert lines[ood]["slope"] == pytest.approx(slope, abs=1e-6)
        assert lines[ood]["intercept"] == pytest.approx(intercept, abs=1e-6)
        resid = norm.ppf(base[ood] / full) - (slope * norm.ppf(base.val / full) + intercept)
        r2 = (
            1
            - (resid**2).sum() / ((norm.ppf(base[ood] / full) - norm.ppf(base[ood] / full).mean()) ** 2).sum()
        )
        assert lines[ood]["r2"] == pytest.approx(r2, abs=1e-6)
        assert lines[ood]["n"] == len(base) and lines[ood]["transform"] == "probit"
        got = eff[eff.ood == ood].set_index("model")
        assert sorted(got.index) == sorted(rows.model)
        for _, r in rows.iterrows():
            pred = full * norm.cdf(slope * norm.ppf(r.val / full) + intercept)
            assert got.loc[r.model, "predicted_ood_acc"] == pytest.approx(pred, abs=1e-6 * full / 100)
            assert got.loc[r.model, "effective_robustness"] == pytest.approx(
                r[ood] - pred, abs=1e-6 * full / 100
            )
            assert got.loc[r.model, "id_acc"] == pytest.approx(r.val)  # same units as the input
    assert (lines["sketch"]["id_set"], lines["sketch"]["ood_set"]) == ("val", "sketch")
    assert "lines_by_family.json" not in {p.name for p in out.iterdir()}  # no families: as before
    assert (eff.family.isna()).all()  # no families: an empty family column
    assert (eff.er_low <= eff.effective_robustness).all() and (eff.effective_robustness <= eff.er_high).all()
    assert lines["sketch"]["skipped"] == 1 and lines["v2/matched"]["skipped"] == 0
    assert lines["sketch"]["n"] == 4  # r50 has no sketch accuracy: skipped, not filled
    assert (out / "line_v2_matched.png").stat().st_size > 10_000
    assert (out / "line_sketch.png").exists()
    assert not list(out.glob(".*"))  # no temporaries left behind


def test_logit_and_default_baseline(tmp_path: Path) -> None:
    csv, _ = _write_inputs(tmp_path, TABLE)
    out = tmp_path / "out"
    assert main(["--csv", str(csv), "--id", "val", "--ood", "v2/matched", "--transform", "logit",
                 "--out", str(out), "--n-boot", "0"]) == 0  # fmt: skip
    line = json.loads((out / "lines.json").read_text())["v2/matched"]
    logit = lambda a: np.log(a / (1 - a))  # noqa: E731
    slope, intercept = _ols(logit(TABLE.val / 100), logit(TABLE["v2/matched"] / 100))
    assert (line["slope"], line["intercept"], line["n"]) == pytest.approx((slope, intercept, 7), abs=1e-6)


def test_unknown_column_names_available_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, _ = _write_inputs(tmp_path, TABLE)
    out = tmp_path / "out"
    code = main(["--csv", str(csv), "--id", "val", "--ood", "sketchy", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "'sketchy'" in err and "Did you mean 'sketch'" in err and "notes, sketch, v2/matched, val" in err
    assert "Traceback" not in err and not out.exists()


def test_baseline_file_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv, models = _write_inputs(tmp_path, TABLE)
    models.write_text("r18\nr34\nresnet-9000\n")
    base = ["--csv", str(csv), "--id", "val", "--ood", "v2/matched", "--out", str(tmp_path / "o")]
    assert main([*base, "--baseline", str(models)]) == 2
    assert "resnet-9000" in capsys.readouterr().err
    models.write_text("# only comments\n\n")
    assert main([*base, "--baseline", str(models)]) == 2
    assert "lists no models" in capsys.readouterr().err
    assert main([*base, "--baseline", str(tmp_path / "missing.txt")]) == 2
    assert "cannot read baseline file" in capsys.readouterr().err
    assert main([*base[:1], str(tmp_path / "nope.csv"), *base[2:]]) == 2
    assert "no such CSV file" in capsys.readouterr().err


def test_failed_run_keeps_previous_outputs(tmp_path: Path) -> None:
    csv, models = _write_inputs(tmp_path, TABLE)
    out = tmp_path / "out"
    args = ["--csv", str(csv), "--id", "val", "--ood", "v2/matched", "--out", str(out), "--n-boot", "0"]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    # Fewer than 2 baseline models with a sketch value: the run fails before anything is replaced.
    models.write_text("r50\nr18\n")
    assert main([*args, "--ood", "sketch", "--baseline", str(models)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_crash_while_writing_keeps_previous_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    csv, _ = _write_inputs(tmp_path, TABLE)
    out = tmp_path / "out"
    args = ["--csv", str(csv), "--id", "val", "--ood", "v2/matched", "--out", str(out), "--n-boot", "0"]
    assert main(args) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError("disk full while plotting")

    monkeypatch.setattr(line_command, "plot_report_panel", explode)
    changed = TABLE.assign(val=TABLE.val - 1)  # new results whose CSV/JSON were staged before the crash
    changed.to_csv(csv, index=False)
    with pytest.raises(RuntimeError, match="disk full"):
        main(args)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no partial update, no temporaries


def test_db_input(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.db")
    rows = TABLE.dropna(subset=["sketch"])
    cells = [Cell("eval", m, "val", v / 100, 10_000) for m, v in zip(rows.model, rows.val, strict=True)]
    cells += [
        Cell("eval", m, "v2", v / 100, 10_000) for m, v in zip(rows.model, rows["v2/matched"], strict=True)
    ]
    store.put(cells)
    out = tmp_path / "out"
    assert (
        main(["--db", str(store.path), "--id", "val", "--ood", "v2", "--out", str(out), "--n-boot", "50"])
        == 0
    )
    line = json.loads((out / "lines.json").read_text())["v2"]
    slope, intercept = _ols(norm.ppf(rows.val / 100), norm.ppf(rows["v2/matched"] / 100))
    assert (line["slope"], line["intercept"]) == pytest.approx((slope, intercept), abs=1e-6)
    eff = pd.read_csv(out / "effective_robustness.csv")
    assert eff.ood_ci_low.notna().all()  # sample counts from the store give per-point intervals
    assert main(["--db", str(tmp_path / "none.db"), "--id", "val", "--ood", "v2", "--out", str(out)]) == 2


def test_plot_file_names_are_safe_and_unique() -> None:
    names = plot_file_names(["imagenet-r", "a/b", "a b", "../x"])
    assert names == {"imagenet-r": "line_imagenet-r.png", "a/b": "line_a_b.png", "a b": "line_a_b-2.png",
                     "../x": "line_x.png"}  # fmt: skip


@pytest.mark.slow
def test_console_script_dispatch(tmp_path: Path) -> None:
    csv, _ = _write_inputs(tmp_path, TABLE)
    # Through the real dispatcher, as a user runs it; `vlmrobust line` must not pay for importing torch.
    code = (
        "import sys; from vlmrobust.core.cli import main; code = main(sys.argv[1:]); "
        "assert 'torch' not in sys.modules, 'line imported torch'; sys.exit(code)"
    )
    argv = ["line", "--csv", str(csv), "--id", "val", "--ood", "nope", "--out", str(tmp_path / "o")]
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert "vlmrobust line: error: column 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_er_intervals_follow_seed_and_level(tmp_path: Path) -> None:
    csv, models = _write_inputs(tmp_path, TABLE)
    base = [
        "--csv",
        str(csv),
        "--id",
        "val",
        "--ood",
        "v2/matched",
        "--baseline",
        str(models),
        "--n-boot",
        "300",
    ]

    def run(*extra: str) -> pd.DataFrame:
        out = tmp_path / "-".join(extra or ("default",))
        assert main([*base, "--out", str(out), *extra]) == 0
        return pd.read_csv(out / "effective_robustness.csv").set_index("model")

    default, again, narrow = run(), run("--seed", "0"), run("--ci-level", "0.5")
    pd.testing.assert_frame_equal(default, again)
    width = lambda e: e.er_high - e.er_low  # noqa: E731
    assert (width(narrow) < width(default)).all()
    # Independent reference: the same resamples of the baseline, one np.polyfit each, percentiles of ER.
    rows = TABLE.set_index("model")
    idx = np.random.default_rng(0).integers(0, len(BASELINE), size=(300, len(BASELINE)))
    bx, by = norm.ppf(rows.loc[BASELINE, "val"] / 100), norm.ppf(rows.loc[BASELINE, "v2/matched"] / 100)
    fits = [np.polyfit(bx[r], by[r], 1) for r in idx if np.ptp(bx[r]) > 0]
    ers = [rows["v2/matched"] - 100 * norm.cdf(s * norm.ppf(rows.val / 100) + b) for s, b in fits]
    lo, hi = np.percentile(np.array(ers), [2.5, 97.5], axis=0)
    np.testing.assert_allclose(default.loc[rows.index, "er_low"], lo, atol=1e-9)
    np.testing.assert_allclose(default.loc[rows.index, "er_high"], hi, atol=1e-9)
    assert main([*base, "--out", str(tmp_path / "bad"), "--ci-level", "95"]) == 2
