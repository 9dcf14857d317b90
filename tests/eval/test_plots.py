"""Plot helpers: accuracy-% ticks at transformed positions, panels, grids, atomic saves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.stats import norm

from vlmrobust.core.linefit import bootstrap_band, fit_line
from vlmrobust.core.robustness import fit_families, fit_robustness
from vlmrobust.eval.plots import (
    plot_family_lines,
    plot_family_panel,
    plot_robustness_grid,
    plot_robustness_line,
    save_figure,
    set_accuracy_axes,
)

ID = np.array([60.0, 66.0, 71.0, 75.0, 80.0, 70.0])
OOD = np.array([45.0, 52.0, 57.0, 62.0, 68.0, 66.0])


def _tick_map(axis) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {
        t.get_text(): float(pos) for t, pos in zip(axis.get_ticklabels(), axis.get_ticklocs(), strict=True)
    }


def test_probit_ticks_are_accuracy_percent_at_transformed_positions() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_xlim(norm.ppf(0.03), norm.ppf(0.97))
    ax.set_ylim(norm.ppf(0.4), norm.ppf(0.8))
    set_accuracy_axes(ax, "probit")
    xt, yt = _tick_map(ax.xaxis), _tick_map(ax.yaxis)
    assert "50%" in xt and xt["50%"] == pytest.approx(0.0)
    assert xt["90%"] == pytest.approx(norm.ppf(0.9))
    assert set(yt) == {"40%", "50%", "60%", "70%", "80%"}
    assert yt["80%"] == pytest.approx(norm.ppf(0.8))
    assert len(xt) <= 9
    ax.set_xlim(norm.ppf(0.75), norm.ppf(0.79))  # too narrow for the tiers: evenly spaced accuracies
    set_accuracy_axes(ax, "probit")
    assert list(_tick_map(ax.xaxis)) == ["75%", "76%", "77%", "78%", "79%"]


def test_logit_and_linear_ticks() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_xlim(np.log(0.2 / 0.8), np.log(0.99 / 0.01))
    ax.set_ylim(0.1, 0.9)
    set_accuracy_axes(ax, "logit")
    xt = _tick_map(ax.xaxis)  # 20 % … 99 %: tiers 50 | 90 | 30, 70, 99 fit; the next tier would crowd
    assert list(xt) == ["30%", "50%", "70%", "90%", "99%"]
    assert xt["99%"] == pytest.approx(np.log(0.99 / 0.01))
    set_accuracy_axes(ax, "linear")  # y: 10 % … 90 %, each label at its own accuracy
    yt = _tick_map(ax.yaxis)
    assert len(yt) >= 4 and all(pos == pytest.approx(float(k.rstrip("%")) / 100) for k, pos in yt.items())


def test_plot_robustness_line_draws_points_line_band_and_diagonal(tmp_path: Path) -> None:
    base = np.arange(6) < 5
    line = fit_line(ID[base], OOD[base], "probit", units="percent")
    band = bootstrap_band(ID[base], OOD[base], "probit", np.linspace(55, 85, 20), n_boot=100, units="percent")
    fig = Figure()
    ax = plot_robustness_line(fig.add_subplot(), ID, OOD, line, band=band, baseline_mask=base,
                              labels=[""] * 5 + ["clip"], title="v2")  # fmt: skip
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "baseline (5)" and labels[1] == "other models (1)"
    assert (
        any(t.startswith("fit: slope") for t in labels)
        and "y = x" in labels
        and "95% bootstrap band" in labels
    )
    offsets = ax.collections[0].get_offsets()  # baseline scatter, in probit coordinates
    np.testing.assert_allclose(offsets[:, 0], norm.ppf(ID[base] / 100))
    assert [t.get_text() for t in ax.texts] == ["clip"] and ax.get_title() == "v2"
    assert save_figure(fig, tmp_path / "p.png").stat().st_size > 5_000


def test_plot_robustness_grid_writes_one_png(tmp_path: Path) -> None:
    table = pd.DataFrame({"model": list("abcdef"), "val": ID, "v2": OOD, "sketch": OOD / 2})
    report = fit_robustness(table, "val", ["v2", "sketch"], baseline=list("abcde"))
    path = plot_robustness_grid(report, tmp_path / "out" / "robustness_lines.png", n_boot=50)
    assert path.exists() and path.stat().st_size > 10_000
    assert [p.name for p in path.parent.iterdir()] == ["robustness_lines.png"]  # no temporaries left


def test_save_figure_never_leaves_partial_files(tmp_path: Path) -> None:
    target = tmp_path / "fig.png"
    target.write_bytes(b"previous good plot")
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path / "fig.unknownformat")
    save_figure(fig, target)
    assert target.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png"]


def test_family_panel_one_colour_per_family_with_bands_and_diagonal(tmp_path: Path) -> None:
    x = {"clip": np.array([0.2, 0.5, 0.8, 1.1]), "vlm": np.array([0.0, 0.4, 0.7, 1.0])}
    y = {"clip": 0.8 * x["clip"] - 0.5, "vlm": 0.9 * x["vlm"] - 0.1}
    names = [f"{f}{i}" for f in x for i in range(4)] + ["stray"]
    table = pd.DataFrame({"model": names, "val": norm.cdf(np.r_[x["clip"], x["vlm"], 0.6]),
                          "v2": norm.cdf(np.r_[y["clip"], y["vlm"], 0.2])})  # fmt: skip
    report = fit_families(table, "val", ["v2"], {f: [f"{f}{i}" for i in range(4)] for f in x}, n_boot=0)
    fig = Figure()
    ax = plot_family_panel(fig.add_subplot(), report, "v2", n_boot=50, annotate=True)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith("clip (4, ER reference): slope 0.800") and legend[1].startswith(
        "vlm (4): slope 0.900"
    )
    assert "no family (1)" in legend and "y = x" in legend and "95% bootstrap bands" in legend
    fam_lines = [ln for ln in ax.get_lines() if ln.get_label().startswith(("clip", "vlm"))]
    assert len({ln.get_color() for ln in fam_lines}) == 2  # distinct colours
    gx, gy = fam_lines[1].get_data()  # the VLM line in probit coordinates, across the panel
    np.testing.assert_allclose(gy, 0.9 * gx - 0.1, atol=1e-9)
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 0], x["clip"], atol=1e-9)
    assert [t.get_text() for t in ax.texts] == [f"vlm{i}" for i in range(4)]  # non-reference models labelled
    assert ax.get_xticklabels()[0].get_text().endswith("%")
    assert save_figure(fig, tmp_path / "f.png").stat().st_size > 5_000


def test_plot_family_lines_needs_a_family() -> None:
    with pytest.raises(ValueError, match="at least one family"):
        plot_family_lines(Figure().add_subplot(), [])


def _legend(ax) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_chance_level_is_marked_and_y_equals_x_is_listed_only_in_view() -> None:
    line = fit_line(ID, OOD, "probit", units="percent")
    fig = Figure()
    ax = fig.add_subplot()
    plot_robustness_line(ax, ID, OOD, line, chance=0.6)  # 60 %: inside both axes' ranges
    assert "chance (60%)" in _legend(ax) and "y = x" in _legend(ax)
    c = norm.ppf(0.6)
    flat = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":" and len(ln.get_xdata())]
    assert any(np.allclose(ln.get_ydata(), [c, c]) for ln in flat)  # horizontal at probit(60 %)
    assert any(np.allclose(ln.get_xdata(), [c, c]) for ln in flat)  # vertical at probit(60 %)

    far_ood = OOD - 40.0  # 5 %–28 %: the diagonal never crosses the panel
    ax2 = Figure().add_subplot()
    plot_robustness_line(ax2, ID, far_ood, fit_line(ID, far_ood, "probit", units="percent"), chance=0.001)
    labels = _legend(ax2)
    assert "y = x" not in labels and "chance (0.1%), off the axes" in labels
    from vlmrobust.eval.plots import FamilyPoints

    ax3 = Figure().add_subplot()
    plot_family_lines(ax3, [FamilyPoints("clip", ID, OOD, line)], chance=1 / 18)
    assert "chance (5.556%), off the axes" in _legend(ax3)  # 5.6 % lies below these 45–80 % axes
