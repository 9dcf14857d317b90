"""`vlmrobust slopes` on a small results store and on CSVs, against lines constructed in probit space."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vlmrobust.core.store import Cell, ResultsStore
from vlmrobust.eval.commands.slopes import main, parse_corruption

# Exact probit lines T(ood) = s·T(id) − 0.4 per (corruption, severity): the CNN group's slopes, the ViT group's.
SLOPES = {("fog", 1): (0.9, 0.8), ("fog", 3): (0.8, 0.5), ("flash", 1): (1.0, 0.9), ("flash", 3): (0.7, 0.4)}
CNN = {"open_clip:RN50@laion": 0.1, "open_clip:RN101@laion": 0.5, "open_clip:convnext@laion": 0.9}
VIT = {"open_clip:ViT-B-32@laion": 0.0, "open_clip:ViT-B-16@laion": 0.4, "open_clip:ViT-L-14@laion": 1.2}
STRAY = {"timm:resnet50": 0.7}  # in no group
GROUPS = [
    "--group",
    "cnn=open_clip:RN*",
    "--group",
    "cnn=open_clip:convnext*",
    "--group",
    "vit=open_clip:ViT*",
]


def _accuracies() -> dict[str, dict[str, float]]:
    """model -> eval set -> accuracy (fraction)."""
    table: dict[str, dict[str, float]] = {}
    for models, which in ((CNN, 0), (VIT, 1), (STRAY, 0)):
        for model, t_id in models.items():
            table[model] = {"imagenet/val": float(norm.cdf(t_id))}
            for (corruption, severity), slopes in SLOPES.items():
                table[model][f"3dcc/{corruption}/{severity}"] = float(norm.cdf(slopes[which] * t_id - 0.4))
    return table


def _store(tmp_path: Path) -> Path:
    db = tmp_path / "results.db"
    cells = [Cell("r1", model, eval_set, value, n=None) for model, row in _accuracies().items()
             for eval_set, value in row.items()]  # fmt: skip
    ResultsStore(db).put(cells)
    return db


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _tan(a: float, b: float) -> float:
    return math.tan(math.atan(a) - math.atan(b))  # the angle form, computed from the angles


def test_store_input_gives_hand_slopes_and_a_corruption_by_severity_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["--db", str(_store(tmp_path)), "--id", "imagenet/val", "--ood", "3dcc/*", *GROUPS]
    assert main([*argv, "--out", str(out), "--n-boot", "50"]) == 0
    printed = capsys.readouterr().out
    assert "3dcc/fog/3: cnn slope 0.800 (n 3), vit slope 0.500 (n 3)" in printed
    assert "1 model(s) in no group" in printed
    rows = pd.read_csv(out / "slopes.csv").set_index("ood")
    assert sorted(rows.index) == sorted(f"3dcc/{c}/{s}" for c, s in SLOPES)
    for (corruption, severity), (s_cnn, s_vit) in SLOPES.items():
        row = rows.loc[f"3dcc/{corruption}/{severity}"]
        assert (row["group_a"], row["group_b"], row["n_a"], row["n_b"]) == ("cnn", "vit", 3, 3)
        assert (row["corruption"], row["severity"], row["family"]) == (corruption, severity, "3dcc")
        assert row["slope_a"] == pytest.approx(s_cnn) and row["slope_b"] == pytest.approx(s_vit)
        assert row["intercept_a"] == pytest.approx(-0.4) and row["r2_b"] == pytest.approx(1.0)
        assert row["delta_slope"] == pytest.approx(s_cnn - s_vit)
        assert row["tan_delta"] == pytest.approx(_tan(s_cnn, s_vit))
        assert row["tan_delta_low"] == pytest.approx(row["tan_delta"])  # exact lines: every resample agrees
        assert row["id"] == "imagenet/val" and row["transform"] == "probit"
    # Fig. 8 layout: 2 corruptions (rows) x 2 severities (columns) of 4.4 x 4.2 in at 110 dpi.
    assert _png_size(out / "slopes.png") == (round(2 * 4.4 * 110), round(2 * 4.2 * 110))
    assert not (out / "mce.csv").exists()


def test_csv_with_group_column_and_mce(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    acc = _accuracies()
    table = pd.DataFrame([{"model": m, **{k: 100 * v for k, v in row.items()}} for m, row in acc.items()])
    table["arch"] = ["cnn"] * len(CNN) + ["vit"] * len(VIT) + [""]
    table.loc[table.model == "open_clip:ViT-L-14@laion", "3dcc/flash/3"] = np.nan  # skipped there
    csv = tmp_path / "accs.csv"
    table.to_csv(csv, index=False)
    baseline = pd.DataFrame({"corruption": ["fog", "fog", "flash", "flash", "snow"], "severity": [1, 3, 1, 3, 1],
                             "error": [60.0, 70.0, 50.0, 80.0, 90.0]})  # fmt: skip
    baseline.to_csv(tmp_path / "alexnet.csv", index=False)
    out = tmp_path / "out"
    argv = ["--csv", str(csv), "--id", "imagenet/val", "--ood", "3dcc/fog/*", "--ood", "3dcc/*/3"]
    code = main([*argv, "--group-column", "arch", "--baseline-errors", str(tmp_path / "alexnet.csv"),
                 "--out", str(out), "--n-boot", "0"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = pd.read_csv(out / "slopes.csv")
    assert list(rows["ood"]) == ["3dcc/fog/1", "3dcc/fog/3", "3dcc/flash/3"]
    flash3 = rows.iloc[2]
    assert (flash3["n_b"], flash3["skipped_b"], flash3["skipped_a"]) == (2, 1, 0)
    assert flash3["slope_b"] == pytest.approx(0.4) and np.isnan(flash3["tan_delta_low"])
    mce = pd.read_csv(out / "mce.csv").set_index("model")
    assert list(mce.columns) == ["group", "mce", "ce/fog", "ce/flash", "missing"]
    # By hand for RN50 (T(id) = 0.1): CE_fog = Σ_s (1 − Φ(s·0.1 − 0.4)) / (0.6 + 0.7) over s = .9, .8;
    # CE_flash uses severity 3 only (the selected sets): (1 − Φ(0.07 − 0.4)) / 0.8.
    ce_fog = ((1 - norm.cdf(0.09 - 0.4)) + (1 - norm.cdf(0.08 - 0.4))) / 1.3
    ce_flash = (1 - norm.cdf(0.07 - 0.4)) / 0.8
    rn50 = mce.loc["open_clip:RN50@laion"]
    assert (rn50["group"], rn50["missing"]) == ("cnn", 0)
    assert (rn50["ce/fog"], rn50["ce/flash"], rn50["mce"]) == pytest.approx(
        (ce_fog, ce_flash, (ce_fog + ce_flash) / 2)
    )
    assert (
        np.isnan(mce.loc["open_clip:ViT-L-14@laion", "mce"])
        and mce.loc["open_clip:ViT-L-14@laion", "missing"] == 1
    )
    assert pd.isna(mce.loc["timm:resnet50", "group"])  # in no group: empty cell
    assert "1 lack a cell (NaN)" in capsys.readouterr().out


def test_ood_names_without_severity_get_one_panel_each(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(-0.5, 1.0, 8)
    table = pd.DataFrame({"model": [f"m{i}" for i in range(8)], "val": norm.cdf(t),
                          "sketch": norm.cdf(0.8 * t - 0.5 + rng.normal(0, 0.05, 8)),
                          "rendition": norm.cdf(0.6 * t - 0.2 + rng.normal(0, 0.05, 8)),
                          "kind": ["x", "y"] * 4})  # fmt: skip
    table.to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "out"
    argv = ["--csv", str(tmp_path / "t.csv"), "--id", "val", "--ood", "*", "--group-column", "kind"]
    assert main([*argv, "--out", str(out), "--n-boot", "200", "--transform", "logit"]) == 0
    rows = pd.read_csv(out / "slopes.csv")
    assert list(rows["ood"]) == ["sketch", "rendition"] and rows["corruption"].isna().all()
    assert (rows["tan_delta_low"] < rows["tan_delta"]).all() and (
        rows["tan_delta"] < rows["tan_delta_high"]
    ).all()
    assert (rows["transform"] == "logit").all() and rows["n_boot"].between(
        180, 200
    ).all()  # 4 models: resamples of one model dropped
    assert _png_size(out / "slopes.png") == (round(2 * 4.4 * 110), round(4.2 * 110))  # 1 row x 2 panels


def test_parse_corruption() -> None:
    assert parse_corruption("imagenet-c/gaussian_noise/5") == ("imagenet-c", "gaussian_noise", 5)
    assert parse_corruption("a/b/3dcc/fog/2") == ("a/b/3dcc", "fog", 2)
    assert parse_corruption("imagenet-r") is None and parse_corruption("3dcc/fog/high") is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ood", "3dcc/*", "--group", "cnn=timm:resnet1*", "--group", "vit=open_clip:ViT*"],
         "--group cnn='timm:resnet1*' matches no model; models: "),
        (["--ood", "imagenet-c/*", *GROUPS], "--ood 'imagenet-c/*' matches no eval set of the selection of"),
        (["--ood", "3dcc/*", "--group", "all=*"], "need at least 2 groups to compare slopes, got 1: all"),
        (["--ood", "3dcc/*", "--group", "a=open_clip:*", "--group", "b=open_clip:ViT*"],
         "group 'b' gets no model"),
        (["--ood", "3dcc/*", "--group-column", "arch"], "--group-column needs --csv"),
        (["--ood", "3dcc/*", "--group", "cnn"], "--group takes NAME=PATTERN"),
        (["--ood", "3dcc/*", "--group", "one=open_clip:RN50*", "--group", "vit=open_clip:ViT*"],
         "OOD set '3dcc/flash/1': group 'one': need at least 2 points"),
    ],
)  # fmt: skip
def test_bad_store_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    out = tmp_path / "out"
    assert main(["--db", str(_store(tmp_path)), "--id", "imagenet/val", *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vlmrobust slopes: error: ") and message in err, err
    assert err.count("\n") == 1
    assert not out.exists()  # nothing written


def test_bad_id_and_baseline_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = str(_store(tmp_path))
    base = ["--db", db, "--ood", "3dcc/fog/*", *GROUPS, "--out", str(tmp_path / "out")]
    assert main([*base, "--id", "imagenet/vall"]) == 2
    assert "--id 'imagenet/vall' is not an eval set" in capsys.readouterr().err
    pd.DataFrame({"corruption": ["fog"], "severity": [1], "error": [0.6]}).to_csv(
        tmp_path / "b.csv", index=False
    )
    assert main([*base, "--id", "imagenet/val", "--baseline-errors", str(tmp_path / "b.csv")]) == 2
    err = capsys.readouterr().err
    assert (
        "has no error for corruption 'fog', severity 3 (OOD set '3dcc/fog/3')" in err and err.count("\n") == 1
    )
