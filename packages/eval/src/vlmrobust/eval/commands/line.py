"""``vlmrobust line``: fit robustness lines and effective robustness from a results table.

Example::

    vlmrobust line --csv robustness_top1s.csv --id val --ood imagenetv2-matched-frequency-format-val \\
        --baseline standard_models.txt --transform probit --out out/line

Writes ``effective_robustness.csv``, ``lines.json`` and one ``line_<ood>.png`` per OOD column.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import get_args

import pandas as pd
from matplotlib.figure import Figure

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.robustness import RobustnessReport, fit_robustness
from vlmrobust.core.store import ResultsStore, StoreError
from vlmrobust.core.transforms import TransformName
from vlmrobust.eval.commands import StagedOutputs
from vlmrobust.eval.plots import plot_report_panel

PROG = "vlmrobust line"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vlmrobust line``."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="wide table: a model column plus one accuracy column per eval set",
    )
    src.add_argument(
        "--db",
        type=Path,
        metavar="FILE",
        help="results store (results.db); its cells are pivoted to a wide table",
    )
    p.add_argument("--id", required=True, dest="id_col", metavar="COL", help="column of ID accuracies")
    p.add_argument(
        "--ood",
        required=True,
        action="append",
        dest="ood_cols",
        metavar="COL",
        help="OOD column (repeatable)",
    )
    p.add_argument(
        "--baseline",
        type=Path,
        metavar="MODELS.txt",
        help="file listing baseline models, one per line (default: all)",
    )
    p.add_argument(
        "--transform", default="probit", choices=get_args(TransformName), help="accuracy transform"
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    p.add_argument("--model-col", default="model", help="column naming the models (CSV input)")
    p.add_argument("--metric", default="top1", help="metric to read from --db")
    p.add_argument("--protocol", default="zeroshot", help="protocol to read from --db")
    p.add_argument("--step", default="last", help="training step to read from --db, or 'last'")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the band (0: none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--annotate", action="store_true", help="label non-baseline points with model names")
    return p


def read_model_list(path: Path) -> list[str]:
    """Model names from ``path``, one per line; blank lines and ``#`` comments are ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CLIError(f"cannot read baseline file {path}: {err.strerror or err}") from err
    names = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    names = [n for n in names if n]
    if not names:
        raise CLIError(f"baseline file {path} lists no models")
    return names


def load_table(args: argparse.Namespace) -> tuple[pd.DataFrame, dict[str, int], str]:
    """The wide table, known sample counts per column, and the model column name."""
    if args.csv is not None:
        try:
            table = pd.read_csv(args.csv, dtype={args.model_col: str})
        except FileNotFoundError:
            raise CLIError(f"no such CSV file: {args.csv}") from None
        except (OSError, ValueError, pd.errors.ParserError) as err:
            raise CLIError(f"cannot read CSV {args.csv}: {err}") from err
        return table, {}, args.model_col
    if not args.db.exists():
        raise CLIError(f"no such results store: {args.db}")
    step = args.step if args.step == "last" else _int(args.step, "--step")
    store = ResultsStore(args.db)
    table = store.wide(metric=args.metric, protocol=args.protocol, step=step)
    if len(table) == 0:
        raise CLIError(f"{args.db} holds no cells with metric={args.metric!r}, protocol={args.protocol!r}")
    return table, store.sample_counts(metric=args.metric, protocol=args.protocol, step=step), "model"


def _int(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CLIError(f"{flag} must be an integer or 'last', got {value!r}") from None


def plot_file_names(oods: list[str]) -> dict[str, str]:
    """``line_<ood>.png`` per OOD column, with unsafe characters replaced and clashes numbered."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for ood in oods:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ood).strip("._") or "ood"
        name, i = f"line_{stem}.png", 2
        while name in used:
            name, i = f"line_{stem}-{i}.png", i + 1
        used.add(name)
        names[ood] = name
    return names


def write_outputs(
    report: RobustnessReport, out: Path, n_boot: int, seed: int, annotate: bool
) -> dict[str, str]:
    """Write the CSV, JSON and plots of ``report`` into ``out`` (all or nothing); return plot names."""
    plots = plot_file_names(list(report.lines))
    with StagedOutputs(out) as staged:
        report.effective.to_csv(staged.path("effective_robustness.csv"), index=False)
        lines = {
            ood: {
                **line.to_dict(),
                "skipped": report.skipped[ood],
                "id": report.id_col,
                "plot": plots[ood],
            }
            for ood, line in report.lines.items()
        }
        staged.path("lines.json").write_text(json.dumps(lines, indent=2) + "\n", encoding="utf-8")
        for ood, name in plots.items():
            fig = Figure(figsize=(5.2, 4.8))
            plot_report_panel(fig.add_subplot(), report, ood, n_boot=n_boot, seed=seed, annotate=annotate)
            fig.tight_layout()
            fig.savefig(staged.path(name), dpi=150, format="png")
    return plots


def summarize(report: RobustnessReport, out: Path, n_models: int) -> str:
    """A few lines: one per OOD column with the line and the extreme effective robustness."""
    unit = "pp" if report.units == "percent" else ""
    lines = [
        f"{PROG}: {n_models} models, ID {report.id_col!r}, {report.transform} transform, "
        f"{len(report.baseline)} baseline models, accuracies in {report.units}"
    ]
    for ood, line in report.lines.items():
        pts = report.points(ood)
        best = pts.loc[pts["effective_robustness"].idxmax()]
        lines.append(
            f"  {ood}: slope {line.slope:.4f}, intercept {line.intercept:.4f}, R² {line.r2:.4f}, n {line.n}, "
            f"skipped {report.skipped[ood]}; max ER {best['effective_robustness']:+.3g}{unit} ({best['model']})"
        )
    lines.append(f"  wrote {out}/effective_robustness.csv, lines.json and {len(report.lines)} plot(s)")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    if args.n_boot < 0:
        raise CLIError("--n-boot must be >= 0")
    table, n_samples, model_col = load_table(args)
    baseline = read_model_list(args.baseline) if args.baseline is not None else None
    report = fit_robustness(
        table,
        id_col=args.id_col,
        ood_cols=args.ood_cols,
        baseline=baseline,
        transform=args.transform,
        model_col=model_col,
        n_samples=n_samples,
    )
    write_outputs(report, args.out, args.n_boot, args.seed, args.annotate)
    print(summarize(report, args.out, len(table)))
    return 0


@cli_main("line", expected=(StoreError,))
def main(argv: list[str]) -> int:
    """Entry point of ``vlmrobust line``; returns the exit code (2 on bad input)."""
    return _run(build_parser().parse_args(argv))
