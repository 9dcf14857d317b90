"""`vlmrobust line` with families and results-store filters, against lines constructed in probit space."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from vlmrobust.core.store import Cell, ResultsStore
from vlmrobust.eval.commands.line import main

# Exact lines in probit space: CLIP-family T(ood) = 0.8·T(id) − 0.5, VLM-family T(ood) = 0.9·T(id) − 0.1.
CLIP = {f"open_clip:ViT-{i}@openai": x for i, x in enumerate([0.2, 0.5, 0.8, 1.1])}
VLM = {f"hf:llava-{i}": x for i, x in enumerate([0.0, 0.4, 0.7, 1.0, 1.3])}
STRAY = {"timm:resnet50": (0.6, 0.2), "timm:vit": (0.9, 0.45)}  # in no family: (T(id), T(ood))
FAMILIES = ["--family", "clip=open_clip:*", "--family", "vlm=hf:*llava*"]


def _points() -> dict[str, tuple[float, float]]:
    pts = {m: (x, 0.8 * x - 0.5) for m, x in CLIP.items()}
    pts |= {m: (x, 0.9 * x - 0.1) for m, x in VLM.items()}
    return pts | STRAY


def _csv(tmp_path: Path, family_col: bool = False) -> Path:
    pts = _points()
    table = pd.DataFrame({"model": list(pts), "val": [100 * norm.cdf(x) for x, _ in pts.values()],
                          "v2": [100 * norm.cdf(y) for _, y in pts.values()]})  # fmt: skip
    if family_col:
        table["kind"] = ["clip"] * len(CLIP) + ["vlm"] * len(VLM) + [""] * len(STRAY)
    path = tmp_path / "table.csv"
    table.to_csv(path, index=False)
    return path


def _er_vs_clip(x: float, y: float) -> float:
    return 100 * (norm.cdf(y) - norm.cdf(0.8 * x - 0.5))


def test_families_from_patterns_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["--csv", str(_csv(tmp_path)), "--id", "val", "--ood", "v2", *FAMILIES, "--out", str(out),
                 "--n-boot", "100"]) == 0  # fmt: skip
    stdout = capsys.readouterr().out
    assert "closest to y = x on v2: vlm" in stdout
    assert "2 model(s) in no family (not in any family line): timm:resnet50, timm:vit" in stdout

    by_family = json.loads((out / "lines_by_family.json").read_text())
    assert list(by_family) == ["clip", "vlm"]
    for fam, slope, intercept, n in (("clip", 0.8, -0.5, 4), ("vlm", 0.9, -0.1, 5)):
        line = by_family[fam]["v2"]
        assert (line["slope"], line["intercept"], line["r2"], line["n"]) == pytest.approx(
            (slope, intercept, 1.0, n), abs=1e-9
        )
        assert (line["id_set"], line["ood_set"], line["transform"], line["units"]) == ("val", "v2", "probit",
                                                                                         "percent")  # fmt: skip
    lines = json.loads((out / "lines.json").read_text())  # the reference (first) family's line, as before
    assert list(lines) == ["v2"] and lines["v2"]["reference_family"] == "clip"
    assert (lines["v2"]["slope"], lines["v2"]["intercept"]) == pytest.approx((0.8, -0.5), abs=1e-9)
    assert (lines["v2"]["id_set"], lines["v2"]["ood_set"]) == ("val", "v2")

    eff = pd.read_csv(out / "effective_robustness.csv", keep_default_na=False).set_index("model")
    for model, (x, y) in _points().items():
        row = eff.loc[model]
        assert row.family == ("clip" if model in CLIP else "vlm" if model in VLM else "")
        assert float(row.effective_robustness) == pytest.approx(_er_vs_clip(x, y), abs=1e-8)
        # The CLIP points lie exactly on the reference line: zero-width bootstrap intervals.
        assert (float(row.er_low), float(row.er_high)) == pytest.approx((_er_vs_clip(x, y),) * 2, abs=1e-8)
        assert float(row.er_transformed) == pytest.approx(y - (0.8 * x - 0.5), abs=1e-9)

    summary = pd.read_csv(out / "family_summary.csv").set_index("family")
    assert list(summary.index) == ["clip", "vlm"] and (summary.ood == "v2").all()
    vlm_er = np.mean([_er_vs_clip(x, 0.9 * x - 0.1) for x in VLM.values()])
    assert summary.loc["vlm", "mean_er"] == pytest.approx(vlm_er, abs=1e-8)
    assert summary.loc["clip", "mean_er"] == pytest.approx(0.0, abs=1e-8)
    assert summary.loc["clip", "mean_diagonal_distance"] == pytest.approx(
        np.mean([-0.2 * x - 0.5 for x in CLIP.values()])
    )
    assert summary.loc["vlm", "mean_diagonal_distance"] == pytest.approx(
        np.mean([-0.1 * x - 0.1 for x in VLM.values()])
    )
    assert summary.closest_to_diagonal.to_dict() == {"clip": False, "vlm": True}
    assert summary.loc["vlm", ["n_models", "slope", "intercept", "r2"]].tolist() == pytest.approx(
        [5, 0.9, -0.1, 1]
    )
    assert (out / "line_v2.png").stat().st_size > 10_000
    assert not list(out.glob(".*"))  # every output staged and moved together


def test_family_column_and_reference_family(tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["--csv", str(_csv(tmp_path, family_col=True)), "--id", "val", "--ood", "v2", "--family-column",
            "kind", "--out", str(out), "--n-boot", "0"]  # fmt: skip
    assert main([*argv, "--reference-family", "vlm"]) == 0
    lines = json.loads((out / "lines.json").read_text())["v2"]
    assert (lines["slope"], lines["intercept"], lines["reference_family"]) == pytest.approx(
        (0.9, -0.1, "vlm")
    )
    by_family = json.loads((out / "lines_by_family.json").read_text())
    assert by_family["clip"]["v2"]["slope"] == pytest.approx(0.8, abs=1e-9)
    eff = pd.read_csv(out / "effective_robustness.csv")
    assert eff.er_low.isna().all()  # --n-boot 0: no resamples, no intervals
    summary = pd.read_csv(out / "family_summary.csv").set_index("family")
    assert summary.loc["vlm", "mean_er"] == pytest.approx(0.0, abs=1e-8)


def test_unmatched_models_as_other_family_or_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["--csv", str(_csv(tmp_path)), "--id", "val", "--ood", "v2", *FAMILIES, "--out", str(out),
            "--n-boot", "0"]  # fmt: skip
    assert main([*argv, "--unmatched", "other"]) == 0
    other = json.loads((out / "lines_by_family.json").read_text())["other"]["v2"]
    (x1, y1), (x2, y2) = STRAY.values()  # two points: the line through them
    assert (other["slope"], other["n"]) == pytest.approx(((y2 - y1) / (x2 - x1), 2), abs=1e-9)
    assert set(pd.read_csv(out / "effective_robustness.csv").family) == {"clip", "vlm", "other"}
    capsys.readouterr()
    assert main([*argv, "--unmatched", "error"]) == 2
    assert "2 model(s) match no family: timm:resnet50, timm:vit" in capsys.readouterr().err


def test_family_flag_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--csv", str(_csv(tmp_path)), "--id", "val", "--ood", "v2", "--out", str(tmp_path / "o")]
    assert main([*base, "--family", "clip"]) == 2
    assert "NAME=PATTERN" in capsys.readouterr().err
    assert main([*base, *FAMILIES, "--family", "siglip=*siglip*"]) == 2
    assert "--family siglip='*siglip*' matches no model" in capsys.readouterr().err
    assert (
        main([*base, "--family", "hf=hf:*", "--family", "vlm=hf:*llava*", "--family", "c=open_clip:*"]) == 2
    )
    assert "family 'vlm' gets no model" in capsys.readouterr().err
    assert main([*base, *FAMILIES, "--reference-family", "vlms"]) == 2
    assert "Did you mean 'vlm'" in capsys.readouterr().err
    assert main([*base, "--reference-family", "vlm"]) == 2
    assert "needs families" in capsys.readouterr().err
    assert main([*base, "--family-column", "kind"]) == 2
    assert "--family-column 'kind' is not a column" in capsys.readouterr().err
    assert main([*base, "--protocol", "zeroshot"]) == 2
    assert "--protocol select cells of a results store; they need --db" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --- results store ------------------------------------------------------------------------------------

ID_SET, OOD_SET, OTHER_SET = "imagenet/val", "imagenet-r", "imagenet-sketch"


def _store(tmp_path: Path) -> ResultsStore:
    """Cells of an eval run (CLIP models zero-shot, VLMs by MCQ), a junk run, and an earlier step."""
    store = ResultsStore(tmp_path / "results.db")
    cells = []
    for model, x in CLIP.items():
        for s, acc in ((ID_SET, x), (OOD_SET, 0.8 * x - 0.5), (OTHER_SET, 0.5 * x - 1.0)):
            cells.append(Cell("eval", model, s, float(norm.cdf(acc)), 10_000, protocol="zeroshot/openai80"))
    for model, x in VLM.items():
        for s, acc in ((ID_SET, x), (OOD_SET, 0.9 * x - 0.1), (OTHER_SET, 0.6 * x - 0.4)):
            cells.append(Cell("eval", model, s, float(norm.cdf(acc)), 10_000, protocol="mcq/likelihood-mean",
                              step=200))  # fmt: skip
            # An earlier checkpoint, on another line: only --step 100 reads it.
            cells.append(Cell("eval", model, s, float(norm.cdf(acc - 0.3)), 10_000,
                              protocol="mcq/likelihood-mean", step=100))  # fmt: skip
    for model in list(CLIP)[:2]:  # another run: would change the labels and lines unless --run drops it
        cells += [Cell("junk", model, s, 0.5, 100, protocol="zeroshot/openai80") for s in (ID_SET, OOD_SET)]
    store.put(cells)
    return store


def test_db_filters_and_families(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path)
    out = tmp_path / "out"
    argv = ["--db", str(store.path), "--id", ID_SET, "--protocol", "zeroshot*", "--protocol", "mcq/*",
            "--eval-set", "imagenet/*", "--eval-set", OOD_SET, "--run", "ev*", *FAMILIES, "--out", str(out),
            "--n-boot", "50"]  # fmt: skip
    assert main(argv) == 0  # no --ood: every selected eval set but the ID one (imagenet-sketch not selected)
    assert f"{OOD_SET}: slope" in capsys.readouterr().out
    by_family = json.loads((out / "lines_by_family.json").read_text())
    assert list(by_family["clip"]) == [OOD_SET]
    assert (by_family["clip"][OOD_SET]["slope"], by_family["clip"][OOD_SET]["intercept"]) == pytest.approx(
        (0.8, -0.5), abs=1e-9
    )
    assert by_family["vlm"][OOD_SET]["slope"] == pytest.approx(0.9, abs=1e-9)  # step 200 (the last)
    assert by_family["vlm"][OOD_SET]["id_set"] == ID_SET
    eff = pd.read_csv(out / "effective_robustness.csv")
    assert sorted(eff.model) == sorted([*CLIP, *VLM])  # labelled by model: the junk run was dropped
    assert eff.ood_ci_low.notna().all()  # sample counts of the store give per-point intervals
    assert (out / "line_imagenet-r.png").exists() and (out / "family_summary.csv").exists()

    # --step 100 reads the earlier VLM checkpoint only: T(id) = x − 0.3 and T(ood) = 0.9x − 0.4 = 0.9·T(id) − 0.13.
    assert main(["--db", str(store.path), "--id", ID_SET, "--ood", OOD_SET, "--protocol", "mcq/*",
                 "--step", "100", "--out", str(out), "--n-boot", "0"]) == 0  # fmt: skip
    line = json.loads((out / "lines.json").read_text())[OOD_SET]
    assert (line["slope"], line["intercept"], line["n"]) == pytest.approx((0.9, -0.13, 5), abs=1e-9)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--protocol", "probe*"], "--protocol 'probe*' matches no cells"),
        (["--run", "sweep-*"], "--run 'sweep-*' matches no cells"),
        (["--eval-set", "objectnet"], "--eval-set 'objectnet' matches no cells"),
        (["--step", "7"], "--step 7 matches no cells"),
        (["--metric", "top5"], "--metric 'top5' matches no cells"),
        (["--eval-set", OOD_SET], f"--id '{ID_SET}' has no selected cells"),
    ],
)
def test_db_filter_matching_nothing_names_the_filter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    store = _store(tmp_path)
    out = tmp_path / "out"
    code = main(["--db", str(store.path), "--id", ID_SET, "--ood", OOD_SET, *flags, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err
    assert not out.exists()


def test_db_lists_the_values_a_filter_could_match(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(tmp_path)
    argv = ["--db", str(store.path), "--id", ID_SET, "--out", str(tmp_path / "o")]
    assert main([*argv, "--protocol", "probe*"]) == 2
    assert "protocol values there: mcq/likelihood-mean, zeroshot/openai80" in capsys.readouterr().err
    assert main([*argv, "--protocol", "mcq/*", "--step", "7"]) == 2
    assert "steps there: 100, 200" in capsys.readouterr().err


def test_db_model_under_two_selected_protocols_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _store(tmp_path)
    model = next(iter(CLIP))
    store.put([Cell("eval", model, ID_SET, 0.7, 10_000, protocol="zeroshot/dataset")])
    code = main(["--db", str(store.path), "--id", ID_SET, "--ood", OOD_SET, "--run", "eval",
                 "--out", str(tmp_path / "o")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"model {model!r} has '{ID_SET}' cells under several selected protocols" in err
    assert "zeroshot/dataset, zeroshot/openai80" in err


def test_db_family_patterns_match_the_model_spec_of_run_labelled_rows(tmp_path: Path) -> None:
    # Fine-tuning runs holding one model each are labelled by run; --family still matches their spec.
    store = ResultsStore(tmp_path / "results.db")
    cells = []
    for i, x in enumerate([0.1, 0.5, 0.9]):
        cells += [Cell(f"ft-{i}", "open_clip:ViT-B-32@openai", ID_SET, float(norm.cdf(x)), 1000),
                  Cell(f"ft-{i}", "open_clip:ViT-B-32@openai", OOD_SET, float(norm.cdf(0.7 * x)), 1000)]  # fmt: skip
    for i, x in enumerate([0.2, 0.6, 1.0]):
        cells += [Cell(f"vqa-{i}", "hf:llava-1.5", ID_SET, float(norm.cdf(x)), 1000),
                  Cell(f"vqa-{i}", "hf:llava-1.5", OOD_SET, float(norm.cdf(x - 0.2)), 1000)]  # fmt: skip
    store.put(cells)
    out = tmp_path / "out"
    assert main(["--db", str(store.path), "--id", ID_SET, *FAMILIES, "--out", str(out), "--n-boot", "0"]) == 0
    eff = pd.read_csv(out / "effective_robustness.csv").set_index("model")
    assert eff.family.to_dict() == {
        **{f"ft-{i}": "clip" for i in range(3)},
        **{f"vqa-{i}": "vlm" for i in range(3)},
    }
    by_family = json.loads((out / "lines_by_family.json").read_text())
    assert by_family["clip"][OOD_SET]["slope"] == pytest.approx(0.7, abs=1e-9)
    assert (by_family["vlm"][OOD_SET]["slope"], by_family["vlm"][OOD_SET]["intercept"]) == pytest.approx(
        (1.0, -0.2), abs=1e-9
    )
