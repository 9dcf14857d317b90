"""``vlmrobust theory``: simulate the Gaussian location model and check probit linearity.

Example::

    vlmrobust theory --out out/theory --d 4000 --ns 50 100 200 400 800 1600 3200 --xis 0.5 1 2

Writes ``theory.csv`` (one row per simulated head), ``theory.json`` (predicted vs fitted line)
and ``theory.png`` (points in the probit plane, the predicted and the fitted line).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.linefit import LineFit, fit_line
from vlmrobust.core.theory import TheoryConfig, simulate
from vlmrobust.core.transforms import probit
from vlmrobust.eval.commands import StagedOutputs
from vlmrobust.eval.plots import set_accuracy_axes

PROG = "vlmrobust theory"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vlmrobust theory`` (defaults from :class:`TheoryConfig`)."""
    d = TheoryConfig()
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    p.add_argument("--d", type=int, default=d.d, help="feature dimension")
    p.add_argument("--ns", type=int, nargs="+", default=list(d.ns), help="training-set sizes n")
    p.add_argument("--xis", type=float, nargs="+", default=list(d.xis), help="training-noise multipliers ξ")
    p.add_argument("--rho", type=float, default=d.rho, help="SNR of the training distribution")
    p.add_argument("--rho-id", type=float, default=d.rho_id, help="SNR of the ID test distribution")
    p.add_argument("--rho-ood", type=float, default=d.rho_ood, help="SNR of the OOD test distribution")
    p.add_argument("--angle-id", type=float, default=d.angle_id, help="angle(θ_ID, θ) in degrees")
    p.add_argument("--angle-ood", type=float, default=d.angle_ood, help="angle(θ_OOD, θ) in degrees")
    p.add_argument("--reps", type=int, default=d.reps, help="heads per (n, ξ)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument(
        "--mc-samples", type=int, default=None, help="also sample test sets of this size (Monte Carlo)"
    )
    return p


def plot_theory(df: pd.DataFrame, cfg: TheoryConfig, fitted: LineFit, path: Path) -> None:
    """Simulated heads in the probit plane with the predicted (Theorem 1) and the fitted line."""
    fig = Figure(figsize=(5.6, 5.0))
    ax = fig.add_subplot()
    x, y = df["probit_id"].to_numpy(), df["probit_ood"].to_numpy()
    for xi, color in zip(
        cfg.xis, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple") * 4, strict=False
    ):
        sel = (df["xi"] == xi).to_numpy()
        sizes = 8 + 14 * np.log2(df["n"][sel] / min(cfg.ns) + 1)  # bigger markers for larger n
        ax.scatter(x[sel], y[sel], s=sizes, c=color, alpha=0.75, label=f"ξ = {xi:g}", zorder=3)
    if "mc_id_acc" in df:
        ax.scatter(probit(df["mc_id_acc"]), probit(df["mc_ood_acc"]), s=22, facecolors="none", edgecolors="k",
                   lw=0.7, label=f"Monte Carlo ({int(df['mc_samples'].iloc[0])} samples)", zorder=4)  # fmt: skip
    span = max(x.max() - x.min(), 0.2)
    lo, hi = min(0.0, x.min() - 0.08 * span), x.max() + 0.08 * span
    grid = np.linspace(lo, hi, 100)
    ax.plot(
        grid, cfg.predicted_slope * grid, c="k", lw=1.4, label=f"predicted: slope {cfg.predicted_slope:.4f}"
    )
    ax.plot(grid, fitted.slope * grid + fitted.intercept, c="tab:red", lw=1.2, ls=":",
            label=f"fitted: slope {fitted.slope:.4f}, R² {fitted.r2:.4f}")  # fmt: skip
    ax.plot([lo, hi], [lo, hi], ls="--", c="0.5", lw=1, label="y = x")
    ax.set_xlim(lo, hi)
    ax.set_ylim(min(lo, y.min() - 0.1), max(y.max(), cfg.predicted_slope * hi) + 0.1)
    set_accuracy_axes(ax, "probit")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.set_xlabel("ID accuracy (probit scale)")
    ax.set_ylabel("OOD accuracy (probit scale)")
    ax.set_title(
        f"Gaussian location model: d={cfg.d}, ρ={cfg.rho:g}, ρ_ID={cfg.rho_id:g}, ρ_OOD={cfg.rho_ood:g},\n"
        f"∠(θ_ID,θ)={cfg.angle_id:g}°, ∠(θ_OOD,θ)={cfg.angle_ood:g}°, n={min(cfg.ns)}…{max(cfg.ns)}",
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=150, format="png")


def _run(args: argparse.Namespace) -> int:
    values = {f.name: getattr(args, f.name) for f in fields(TheoryConfig) if hasattr(args, f.name)}
    try:
        cfg = TheoryConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
    except ValueError as err:
        raise CLIError(str(err)) from err
    df = simulate(cfg)
    fitted = fit_line(df["id_acc"], df["ood_acc"], "probit")
    rel = fitted.slope / cfg.predicted_slope - 1.0
    summary = {
        "predicted_slope": cfg.predicted_slope,
        "fitted_slope": fitted.slope,
        "fitted_intercept": fitted.intercept,
        "r2": fitted.r2,
        "relative_slope_error": rel,
        "n_heads": len(df),
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()},
    }
    with StagedOutputs(args.out) as staged:
        df.to_csv(staged.path("theory.csv"), index=False)
        staged.path("theory.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        plot_theory(df, cfg, fitted, staged.path("theory.png"))
    print(
        f"{PROG}: {len(df)} heads, d={cfg.d}, n={min(cfg.ns)}…{max(cfg.ns)}, ξ={', '.join(f'{x:g}' for x in cfg.xis)}\n"
        f"  predicted slope {cfg.predicted_slope:.4f}; fitted slope {fitted.slope:.4f} ({rel:+.2%}), "
        f"intercept {fitted.intercept:+.4f}, R² {fitted.r2:.4f}"
    )
    if "mc_id_acc" in df:
        gap = np.abs(np.concatenate([df["mc_id_acc"] - df["id_acc"], df["mc_ood_acc"] - df["ood_acc"]]))
        print(f"  Monte Carlo ({cfg.mc_samples} samples/set): max |MC − closed form| = {gap.max():.4f}")
    print(f"  wrote {args.out}/theory.csv, theory.json, theory.png")
    return 0


@cli_main("theory")
def main(argv: list[str]) -> int:
    """Entry point of ``vlmrobust theory``; returns the exit code (2 on bad options)."""
    return _run(build_parser().parse_args(argv))
