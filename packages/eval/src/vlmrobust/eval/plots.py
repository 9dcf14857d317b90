"""Robustness-line plots: points in the transformed plane, ticks in accuracy %.

Figures are built with the object-oriented API (``matplotlib.figure.Figure``, rendered by the Agg
backend on save), so nothing here touches pyplot's global state or needs a display.

Public API, reusable by other commands:

* :func:`plot_robustness_line` draws one (ID, OOD) panel on a given ``Axes``;
* :func:`plot_robustness_grid` draws one panel per OOD column of a
  :class:`~vlmrobust.core.robustness.RobustnessReport` into one PNG;
* :func:`plot_family_lines` draws several families' lines on one panel (CLIP-family vs VLM-family),
  :func:`plot_family_panel` does so for a :class:`~vlmrobust.core.robustness.FamilyReport`;
* :func:`set_accuracy_axes` labels transformed axes in accuracy %;
* :func:`save_figure` writes a figure atomically.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator
from numpy.typing import ArrayLike

from vlmrobust.core.atomic import atomic_write
from vlmrobust.core.linefit import Band, LineFit, bootstrap_band, units_scale
from vlmrobust.core.robustness import FamilyReport, RobustnessReport
from vlmrobust.core.transforms import Transform, TransformName, get_transform

# Accuracy (%) tick candidates for probit/logit axes, in tiers of decreasing importance; whole tiers
# are added while the axis has room, so labels stay symmetric around 50 % and never crowd.
_TICK_TIERS: tuple[tuple[float, ...], ...] = (
    (50,),
    (10, 90),
    (1, 30, 70, 99),
    (5, 20, 40, 60, 80, 95),
    (0.1, 2, 98, 99.9),
    (0.5, 99.5),
)
BASELINE_COLOR = "tab:blue"
#: Colours of families, in family order (cycled past ten); models in no family are grey.
FAMILY_COLORS: tuple[str, ...] = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                                  "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "black")  # fmt: skip
UNMATCHED_COLOR = "0.6"
OTHER_COLOR = "tab:orange"
LINE_COLOR = "tab:blue"
#: Colours of families, in family order (cycled past ten); models in no family are grey.
FAMILY_COLORS: tuple[str, ...] = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple",
                                  "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "black")  # fmt: skip
UNMATCHED_COLOR = "0.6"


def _fmt_percent(p: float) -> str:
    return f"{p:g}%"


def _accuracy_ticks(transform: TransformName, lo: float, hi: float, max_ticks: int = 9) -> list[float]:
    """Accuracy values (%) to label on an axis spanning ``[lo, hi]`` in transformed units."""
    t = get_transform(transform)
    a_lo, a_hi = (min(max(float(v) * 100, 0.0), 100.0) for v in t.inverse(np.array([lo, hi])))  # range in %
    ticks: list[float] = []
    if t.name != "linear":
        for tier in _TICK_TIERS:
            inside = [p for p in tier if a_lo <= p <= a_hi]
            if len(ticks) >= 2 and len(ticks) + len(inside) > max_ticks:
                break
            ticks += inside
    if len(ticks) < 2:  # linear axes, or a range too narrow for the tiers: evenly spaced accuracies
        locator = MaxNLocator(nbins=min(max_ticks, 8) - 1, steps=[1, 2, 2.5, 5, 10])
        ticks = [float(v) for v in locator.tick_values(a_lo, a_hi) if a_lo - 1e-9 <= v <= a_hi + 1e-9]
    return sorted(ticks)


def set_accuracy_axes(ax: Axes, transform: TransformName) -> None:
    """Put accuracy-% tick labels at their transformed positions on both axes of ``ax``.

    Call after the axis limits are final.
    """
    t = get_transform(transform)
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        ticks = _accuracy_ticks(t.name, lo, hi)  # type: ignore[arg-type]
        positions = [float(t.forward(p / 100)) for p in ticks]
        axis.set_major_locator(FixedLocator(positions))
        axis.set_ticklabels([_fmt_percent(p) for p in ticks])


def _limits(values: np.ndarray, margin: float = 0.08) -> tuple[float, float]:
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = max((hi - lo) * margin, 0.05)
    return lo - pad, hi + pad


def plot_robustness_line(
    ax: Axes,
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    line: LineFit,
    transform: TransformName | None = None,
    labels: Sequence[str] | None = None,
    band: Band | None = None,
    baseline_mask: ArrayLike | None = None,
    title: str | None = None,
    id_ci: tuple[ArrayLike, ArrayLike] | None = None,
    ood_ci: tuple[ArrayLike, ArrayLike] | None = None,
    xlabel: str = "ID accuracy",
    ylabel: str = "OOD accuracy",
    chance: float | None = None,
) -> Axes:
    """Draw models, the fitted line, its band, y = x and the chance level in the transformed plane.

    Args:
        ax: axes to draw on.
        id_acc: ID accuracies of all models, in ``line.units``.
        ood_acc: OOD accuracies, in ``line.units``.
        line: the fitted baseline line.
        transform: plane to draw in; defaults to ``line.transform``.
        labels: optional text label per point.
        band: optional bootstrap band (from :func:`~vlmrobust.core.linefit.bootstrap_band`).
        baseline_mask: boolean per point, True for baseline models (default: all baseline).
        title: panel title.
        id_ci: optional ``(low, high)`` per-point intervals of ID accuracy, in ``line.units``.
        ood_ci: optional ``(low, high)`` per-point intervals of OOD accuracy, in ``line.units``.
        xlabel: x-axis label.
        ylabel: y-axis label.
        chance: chance accuracy (a fraction, e.g. 1/classes), marked on both axes (``None``: not known).
    """
    t = get_transform(transform or line.transform)
    scale = units_scale(line.units)
    x_acc = np.asarray(id_acc, dtype=float) / scale
    y_acc = np.asarray(ood_acc, dtype=float) / scale
    x, y = t.forward(x_acc), t.forward(y_acc)
    is_base = np.ones(x.shape, bool) if baseline_mask is None else np.asarray(baseline_mask, bool)

    xlim, ylim = _limits(x), _limits(y)
    if id_ci is not None or ood_ci is not None:
        xerr = _err(x, t.forward, id_ci, scale)
        yerr = _err(y, t.forward, ood_ci, scale)
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.7", elinewidth=0.8, zorder=1)
    ax.scatter(x[is_base], y[is_base], s=16, c=BASELINE_COLOR, alpha=0.9, edgecolors="white", linewidths=0.3,
               label=f"baseline ({is_base.sum()})", zorder=4)  # fmt: skip
    if (~is_base).any():  # drawn beneath the baseline so that the fitted points stay visible
        ax.scatter(x[~is_base], y[~is_base], s=20, c=OTHER_COLOR, marker="D", alpha=0.65, lw=0,
                   label=f"other models ({(~is_base).sum()})", zorder=3)  # fmt: skip
    grid_t = np.linspace(*xlim, 200)  # transformed ID positions across the panel
    ax.plot(grid_t, line.slope * grid_t + line.intercept, c=LINE_COLOR, lw=1.8, zorder=2,
            label=f"fit: slope {line.slope:.3f}, R² {line.r2:.3f}")  # fmt: skip
    if band is not None:
        bx = t.forward(np.asarray(band.grid) / scale)
        ax.fill_between(bx, t.forward(band.lower / scale), t.forward(band.upper / scale), color=LINE_COLOR,
                        alpha=0.2, lw=0, zorder=1, label=f"{band.level:.0%} bootstrap band")  # fmt: skip
    _reference_lines(ax, t, xlim, ylim, chance)
    if labels is not None:
        for xi, yi, text in zip(x, y, labels, strict=True):
            if text:
                note = ax.annotate(str(text), (xi, yi), fontsize=6, xytext=(3, 2), textcoords="offset points",
                                   annotation_clip=True, clip_on=True)  # fmt: skip
                note.set_in_layout(False)  # long names must not squeeze the panel
    return _finish_panel(ax, t.name, xlim, ylim, xlabel, ylabel, title)


def _reference_lines(
    ax: Axes, t: Transform, xlim: tuple[float, float], ylim: tuple[float, float], chance: float | None
) -> None:
    """y = x (in the legend only when it crosses the panel) and the chance level on both axes (named in the
    legend, with "off the axes" when it lies outside them)."""
    lo, hi = max(xlim[0], ylim[0]), min(xlim[1], ylim[1])
    if lo < hi:
        ax.plot([lo, hi], [lo, hi], ls="--", c="0.4", lw=1, zorder=0, label="y = x")
    if chance is None or not 0 < chance < 1:
        return
    c = float(t.forward(np.asarray(chance)))
    visible = xlim[0] <= c <= xlim[1] or ylim[0] <= c <= ylim[1]
    label = f"chance ({_fmt_percent(round(100 * chance, 3))})" + ("" if visible else ", off the axes")
    style = {"ls": ":", "c": "0.55", "lw": 1, "zorder": 0}
    if ylim[0] <= c <= ylim[1]:
        ax.axhline(c, **style)
    if xlim[0] <= c <= xlim[1]:
        ax.axvline(c, **style)
    ax.plot([], [], **style, label=label)  # the legend entry, whether or not the lines are in view


def _finish_panel(
    ax: Axes,
    transform: TransformName,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    xlabel: str,
    ylabel: str,
    title: str | None,
) -> Axes:
    """Limits, accuracy-labelled transformed axes, grid, axis labels, title and legend of one panel."""
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    set_accuracy_axes(ax, transform)
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.set_xlabel(f"{xlabel} ({transform} scale)")
    ax.set_ylabel(f"{ylabel} ({transform} scale)")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.8)
    return ax


def _err(
    center: np.ndarray,
    fwd: Callable[[np.ndarray], np.ndarray],
    ci: tuple[ArrayLike, ArrayLike] | None,
    scale: float,
) -> np.ndarray | None:
    if ci is None:
        return None
    lo = fwd(np.asarray(ci[0], dtype=float) / scale)
    hi = fwd(np.asarray(ci[1], dtype=float) / scale)
    return np.nan_to_num(np.vstack([center - lo, hi - center]), nan=0.0).clip(min=0)  # (2, N)


def band_for(
    report: RobustnessReport, ood: str, n_boot: int = 1000, seed: int = 0, n_grid: int = 100
) -> Band:
    """Bootstrap band of ``report``'s line for ``ood`` over the range of its points."""
    pts = report.points(ood)
    base = pts[pts["baseline"]]
    scale = units_scale(report.units)
    lo, hi = pts["id_acc"].min(), pts["id_acc"].max()
    t = get_transform(report.transform)
    tlo, thi = _limits(t.forward(np.array([lo, hi]) / scale))
    grid = t.inverse(np.linspace(tlo, thi, n_grid)) * scale  # even in the transformed plane
    return bootstrap_band(base["id_acc"], base["ood_acc"], report.transform, grid, n_boot=n_boot, seed=seed,
                          units=report.units, n_id=report.n_samples.get(report.id_col),
                          n_ood=report.n_samples.get(ood))  # fmt: skip


def _short(label: str, fallback: str, limit: int = 32) -> str:
    return label if len(label) <= limit else fallback


def plot_report_panel(
    ax: Axes,
    report: RobustnessReport,
    ood: str,
    n_boot: int = 1000,
    seed: int = 0,
    annotate: bool = False,
    chance: float | None = None,
) -> Axes:
    """One panel of ``report`` for ``ood``: points, line, bootstrap band, CIs where known, chance level."""
    pts = report.points(ood)
    has_ci = pts["ood_ci_low"].notna().any() or pts["id_ci_low"].notna().any()
    labels = (
        [m if not b else "" for m, b in zip(pts["model"], pts["baseline"], strict=True)] if annotate else None
    )
    return plot_robustness_line(
        ax,
        pts["id_acc"],
        pts["ood_acc"],
        report.lines[ood],
        labels=labels,
        band=band_for(report, ood, n_boot=n_boot, seed=seed) if n_boot > 0 else None,
        baseline_mask=pts["baseline"],
        title=ood,
        id_ci=(pts["id_ci_low"], pts["id_ci_high"]) if has_ci else None,
        ood_ci=(pts["ood_ci_low"], pts["ood_ci_high"]) if has_ci else None,
        xlabel=_short(f"{report.id_col} accuracy", "ID accuracy"),
        ylabel=_short(f"{ood} accuracy", "OOD accuracy"),
        chance=chance,
    )


@dataclass(frozen=True, eq=False)
class FamilyPoints:
    """One family's points and line on a family panel."""

    name: str  # family name, shown in the legend
    id_acc: np.ndarray  # ID accuracies of its models, in line.units, shape (N,)
    ood_acc: np.ndarray  # OOD accuracies, in line.units, shape (N,)
    line: LineFit  # the family's own line
    band: Band | None = None  # optional bootstrap band of the line
    labels: Sequence[str] | None = None  # optional text label per point
    reference: bool = False  # whether effective robustness is measured against this family's line


def plot_family_lines(
    ax: Axes,
    families: Sequence[FamilyPoints],
    transform: TransformName | None = None,
    others: tuple[ArrayLike, ArrayLike] | None = None,
    reference: LineFit | None = None,
    title: str | None = None,
    xlabel: str = "ID accuracy",
    ylabel: str = "OOD accuracy",
    chance: float | None = None,
) -> Axes:
    """Draw several families, each with its points, line and band in its own colour, plus y = x and chance.

    Every family's line spans the whole panel; its band spans its own points' range.

    Args:
        ax: axes to draw on.
        families: the families, in legend order (colours from :data:`FAMILY_COLORS`).
        transform: plane to draw in; defaults to the first family's ``line.transform``.
        others: optional ``(id_acc, ood_acc)`` of models in no family, drawn grey.
        reference: optional baseline line that is none of the families' (drawn black, dash-dotted).
        title: panel title.
        xlabel: x-axis label.
        ylabel: y-axis label.
        chance: chance accuracy (a fraction), marked on both axes (``None``: not known).
    """
    if not families:
        raise ValueError("plot_family_lines needs at least one family")
    t = get_transform(transform or families[0].line.transform)
    scale = units_scale(families[0].line.units)
    pts = [(t.forward(np.asarray(f.id_acc, float) / scale), t.forward(np.asarray(f.ood_acc, float) / scale))
           for f in families]  # fmt: skip
    if others is not None:
        ox, oy = (t.forward(np.asarray(v, dtype=float) / scale) for v in others)
    xs = np.concatenate([x for x, _ in pts] + ([ox] if others is not None else []))
    ys = np.concatenate([y for _, y in pts] + ([oy] if others is not None else []))
    xlim, ylim = _limits(xs), _limits(ys)
    grid_t = np.linspace(*xlim, 200)  # transformed ID positions across the panel
    for i, (fam, (x, y)) in enumerate(zip(families, pts, strict=True)):
        color = FAMILY_COLORS[i % len(FAMILY_COLORS)]
        ax.scatter(x, y, s=18, c=color, alpha=0.85, edgecolors="white", linewidths=0.3, zorder=4)
        ax.plot(grid_t, fam.line.slope * grid_t + fam.line.intercept, c=color, lw=1.8, zorder=3,
                label=f"{fam.name} ({x.size}{', ER reference' if fam.reference else ''}): slope {fam.line.slope:.3f}, R² {fam.line.r2:.3f}")  # fmt: skip
        if fam.band is not None:
            bx = t.forward(np.asarray(fam.band.grid) / scale)
            ax.fill_between(bx, t.forward(fam.band.lower / scale), t.forward(fam.band.upper / scale),
                            color=color, alpha=0.18, lw=0, zorder=1)  # fmt: skip
        for xi, yi, text in zip(x, y, fam.labels or [""] * x.size, strict=True):
            if text:
                note = ax.annotate(str(text), (xi, yi), fontsize=6, xytext=(3, 2), textcoords="offset points",
                                   annotation_clip=True, clip_on=True)  # fmt: skip
                note.set_in_layout(False)
    if others is not None and ox.size:
        ax.scatter(ox, oy, s=16, c=UNMATCHED_COLOR, marker="x", lw=0.9, zorder=2,
                   label=f"no family ({ox.size})")  # fmt: skip
    if reference is not None:
        ax.plot(grid_t, reference.slope * grid_t + reference.intercept, c="black", ls="-.", lw=1.2, zorder=2,
                label=f"baseline ({reference.n}): slope {reference.slope:.3f}")  # fmt: skip
    if any(f.band is not None for f in families):
        level = next(f.band.level for f in families if f.band is not None)
        ax.fill_between([], [], [], color="0.5", alpha=0.18, lw=0, label=f"{level:.0%} bootstrap bands")
    _reference_lines(ax, t, xlim, ylim, chance)
    return _finish_panel(ax, t.name, xlim, ylim, xlabel, ylabel, title)


def plot_family_panel(
    ax: Axes,
    report: FamilyReport,
    ood: str,
    n_boot: int = 1000,
    seed: int = 0,
    annotate: bool = False,
    chance: float | None = None,
) -> Axes:
    """One panel of ``report`` for ``ood``: every family's points, line and band, unmatched models grey.

    With ``annotate``, the models outside the reference family are labelled with their names.
    """
    fams = []
    for name, fam in report.families.items():
        pts = fam.points(ood)
        labels = list(pts["model"]) if annotate and name != report.reference_family else None
        band = band_for(fam, ood, n_boot=n_boot, seed=seed) if n_boot > 0 else None
        fams.append(FamilyPoints(name, pts["id_acc"].to_numpy(), pts["ood_acc"].to_numpy(), fam.lines[ood],
                                 band=band, labels=labels, reference=name == report.reference_family))  # fmt: skip
    ref = report.reference
    rest = ref.points(ood)
    rest = rest[rest["family"] == ""]
    return plot_family_lines(
        ax,
        fams,
        others=(rest["id_acc"], rest["ood_acc"]) if len(rest) else None,
        reference=ref.lines[ood] if report.reference_family is None else None,
        title=ood,
        xlabel=_short(f"{ref.id_col} accuracy", "ID accuracy"),
        ylabel=_short(f"{ood} accuracy", "OOD accuracy"),
        chance=chance,
    )


def plot_robustness_grid(
    report: RobustnessReport,
    path: str | Path,
    n_boot: int = 1000,
    seed: int = 0,
    ncols: int = 3,
    annotate: bool = False,
    chance: Mapping[str, float] | None = None,
) -> Path:
    """Write one PNG with a panel per OOD column of ``report`` (e.g. ``robustness_lines.png``).

    Args:
        report: output of :func:`~vlmrobust.core.robustness.fit_robustness`.
        path: PNG file to write (atomically).
        n_boot: bootstrap resamples for the bands (0: no band).
        seed: bootstrap seed.
        ncols: panels per row.
        annotate: label the non-baseline points with their model names.
        chance: chance accuracy per OOD column (and the ID column), marked on its panel.
    """
    oods = list(report.lines)
    ncols = max(1, min(ncols, len(oods)))
    nrows = math.ceil(len(oods) / ncols)
    fig = Figure(figsize=(4.6 * ncols, 4.3 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False)  # (nrows, ncols) array of Axes
    for ax, ood in zip(axes.ravel(), oods, strict=False):
        plot_report_panel(ax, report, ood, n_boot=n_boot, seed=seed, annotate=annotate,
                          chance=(chance or {}).get(ood))  # fmt: skip
    for ax in axes.ravel()[len(oods) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return save_figure(fig, path)


def save_figure(fig: Figure, path: str | Path, dpi: int = 150) -> Path:
    """Save ``fig`` to ``path`` through a temporary file and ``os.replace`` (never a partial file)."""
    path = Path(path)
    return atomic_write(
        path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=(path.suffix.lstrip(".") or "png"))
    )
