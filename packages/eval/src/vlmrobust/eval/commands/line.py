"""``vlmrobust line``: fit robustness lines and effective robustness from a results table.

Examples::

    vlmrobust line --csv robustness_top1s.csv --id val --ood imagenetv2-matched-frequency-format-val \\
        --baseline standard_models.txt --transform probit --out out/line
    vlmrobust line --db results.db --id imagenet/val --ood imagenet-r --protocol 'zeroshot*' \\
        --protocol 'mcq/*' --family clip='open_clip:*' --family vlm='hf:*llava*' --out out/families

Writes ``effective_robustness.csv`` (every model's ER against the baseline line, with a bootstrap
interval), ``lines.json`` (``{ood: {slope, intercept, r2, n, transform, units, id_set, ood_set, …}}``,
the lines ER is measured against) and one ``line_<ood>.png`` per OOD set. With families
(``--family NAME=PATTERN`` or ``--family-column COL``) each family gets its own line on the same
figure, the baseline line is the reference family's (default: the first), and ``lines_by_family.json``
(``{family: {ood: {…}}}``) and ``family_summary.csv`` are written too. Models in no family are
listed and counted (``--unmatched report``), form a family ``other`` (``--unmatched other``) or
are an error (``--unmatched error``).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.robustness import (
    FamilyReport,
    RobustnessReport,
    fit_families,
    fit_robustness,
    match_family,
)
from vlmrobust.core.store import ResultsStore, StoreError
from vlmrobust.core.transforms import TransformName
from vlmrobust.eval.commands import StagedOutputs, check_bootstrap_args
from vlmrobust.eval.plots import plot_family_panel, plot_report_panel

PROG = "vlmrobust line"
OTHER = "other"  # family of the unmatched models with --unmatched other


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
    p.add_argument(
        "--id", required=True, dest="id_col", metavar="COL", help="column (eval set) of ID accuracies"
    )
    p.add_argument(
        "--ood",
        action="append",
        dest="ood_cols",
        metavar="COL",
        help="OOD column (repeatable); required with --csv, default with --db: every selected eval set but --id",
    )
    p.add_argument(
        "--baseline", type=Path, metavar="MODELS.txt", help="file listing baseline models, one per line"
    )
    p.add_argument(
        "--transform", default="probit", choices=get_args(TransformName), help="accuracy transform"
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    p.add_argument("--model-col", default="model", help="column naming the models (CSV input)")
    db = p.add_argument_group("results-store selection (--db only; patterns are shell-style, case-sensitive)")
    db.add_argument("--metric", default="top1", help="metric to read")
    db.add_argument(
        "--protocol",
        action="append",
        dest="protocols",
        metavar="PATTERN",
        help="protocol(s) to read (repeatable; default 'zeroshot*'); a model with cells of one eval set "
        "under two selected protocols is an error",
    )
    db.add_argument(
        "--eval-set", action="append", dest="eval_sets", metavar="PATTERN", help="eval sets to use"
    )
    db.add_argument(
        "--run", action="append", dest="runs", metavar="PATTERN", help="runs to read (repeatable)"
    )
    db.add_argument("--step", default="last", help="training step to read, or 'last' (each run's latest)")
    fam = p.add_argument_group("families (one line per family on one figure per OOD set)")
    one = fam.add_mutually_exclusive_group()
    one.add_argument(
        "--family",
        action="append",
        dest="families",
        metavar="NAME=PATTERN",
        help="a family of models whose name, spec or run matches PATTERN (repeatable; first match wins)",
    )
    one.add_argument("--family-column", metavar="COL", help="CSV column naming each model's family")
    fam.add_argument(
        "--reference-family",
        metavar="NAME",
        help="family whose line ER is measured against (default: the first family; exclusive with --baseline)",
    )
    fam.add_argument(
        "--unmatched",
        default="report",
        choices=("report", "other", "error"),
        help="models in no family: listed and counted, kept out of the family lines (report); their own "
        f"family {OTHER!r} (other); or an error",
    )
    p.add_argument(
        "--n-boot", type=int, default=1000, help="bootstrap resamples for bands and ER intervals (0: none)"
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--ci-level", type=float, default=0.95, help="coverage of the ER intervals er_low/er_high")
    p.add_argument("--annotate", action="store_true", help="label non-baseline points with model names")
    p.add_argument(
        "--chance",
        action="append",
        metavar="[SET=]FRACTION",
        help="chance accuracy marked on the panels: one fraction for every set (e.g. 0.2 for 5-way MCQ) or "
        "SET=FRACTION per OOD set (repeatable); default for zero-shot protocols: 1/classes of the sets the "
        "eval-set registry knows (`vlmrobust list evalsets`)",
    )
    return p


def chance_levels(
    oods: Sequence[str], given: Sequence[str] | None, protocols: Sequence[str] | None
) -> dict[str, float]:
    """Chance accuracy per OOD set: from ``--chance``, else (``protocols`` given: store input) 1/classes of
    registered sets under classification protocols. MCQ chance depends on the option count and a CSV does
    not say its protocol, so those need ``--chance``."""
    levels: dict[str, float] = {}
    for item in given or []:
        name, sep, value = item.rpartition("=")
        try:
            fraction = float(value)
        except ValueError:
            raise CLIError(f"--chance {item!r}: expected FRACTION or SET=FRACTION") from None
        if not 0 < fraction < 1:
            raise CLIError(f"--chance {item!r}: a chance accuracy is a fraction in (0, 1)")
        for ood in [name] if sep else oods:
            levels[ood] = fraction
    if given or protocols is None or any(p.startswith("mcq") for p in protocols):
        return levels
    from vlmrobust.data.registry import EVAL_SETS

    return {ood: 1 / EVAL_SETS[ood].num_classes for ood in oods if ood in EVAL_SETS}


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


@dataclass(frozen=True, eq=False)
class Table:
    """The wide table of a run of ``vlmrobust line`` and what is known about its rows."""

    frame: pd.DataFrame  # one row per model, one column per eval set
    model_col: str  # column naming the models
    n_samples: dict[str, int]  # eval set -> test-set size, where known
    names: dict[
        str, tuple[str, ...]
    ]  # row label -> every name family patterns match (label, model spec, run)
    eval_sets: list[str] | None = None  # selected eval sets (DB input); None for a CSV


def load_table(args: argparse.Namespace) -> Table:
    """The wide table from ``--csv`` or ``--db`` (after the selection flags)."""
    if args.csv is not None:
        dtype = {c: str for c in (args.model_col, args.family_column) if c}
        try:
            frame = pd.read_csv(args.csv, dtype=dtype)
        except FileNotFoundError:
            raise CLIError(f"no such CSV file: {args.csv}") from None
        except (OSError, ValueError, pd.errors.ParserError) as err:
            raise CLIError(f"cannot read CSV {args.csv}: {err}") from err
        labels = frame[args.model_col].astype(str) if args.model_col in frame.columns else []
        return Table(frame, args.model_col, {}, {m: (m,) for m in labels})
    if not args.db.exists():
        raise CLIError(f"no such results store: {args.db}")
    step = args.step if args.step == "last" else _int(args.step, "--step")
    cells = select_cells(ResultsStore(args.db).cells(), args, step)
    return pivot_cells(cells)


def _int(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CLIError(f"{flag} must be an integer or 'last', got {value!r}") from None


def _literal(name: str) -> str:
    """A pattern matching exactly ``name``."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _values(cells: pd.DataFrame, col: str) -> str:
    return ", ".join(sorted(map(str, cells[col].unique()))) or "(none)"


def select_cells(cells: pd.DataFrame, args: argparse.Namespace, step: int | str) -> pd.DataFrame:
    """Cells of the store that pass ``--metric``, ``--protocol``, ``--run``, ``--eval-set`` and ``--step``.

    Filters apply in that order; one that leaves nothing is an error naming it and the values
    the cells before it hold.
    """
    if cells.empty:
        raise CLIError(f"{args.db} holds no cells")
    stages = (
        ("--metric", "metric", [_literal(args.metric)]),
        ("--protocol", "protocol", args.protocols or ["zeroshot*"]),
        ("--run", "run", args.runs),
        ("--eval-set", "eval_set", args.eval_sets),
    )
    for flag, col, patterns in stages:
        if not patterns:
            continue
        keep = cells[col].astype(str).map(lambda v, ps=patterns: any(fnmatchcase(v, p) for p in ps))
        if not keep.any():
            given = " ".join(f"{flag} {p!r}" for p in patterns)
            raise CLIError(
                f"{given} matches no cells of {args.db} (after the filters before it); "
                f"{col} values there: {_values(cells, col)}"
            )
        cells = cells[keep]
    if step == "last":
        cells = cells[
            cells["step"] == cells.groupby(["run", "model", "eval_set", "protocol"])["step"].transform("max")
        ]
    else:
        chosen = cells[cells["step"] == step]
        if chosen.empty:
            raise CLIError(
                f"--step {step} matches no cells of {args.db}; steps there: {_values(cells, 'step')}"
            )
        cells = chosen
    clash = cells[cells.duplicated(["run", "model", "eval_set"], keep=False)]
    if not clash.empty:
        first = clash.iloc[0]
        protocols = sorted(clash[(clash["run"] == first["run"]) & (clash["model"] == first["model"])
                                 & (clash["eval_set"] == first["eval_set"])]["protocol"])  # fmt: skip
        raise CLIError(
            f"run {first['run']!r}, model {first['model']!r} has {first['eval_set']!r} cells under several "
            f"selected protocols ({', '.join(protocols)}); narrow --protocol"
        )
    return cells


def pivot_cells(cells: pd.DataFrame) -> Table:
    """The wide table of selected cells, rows labelled as :meth:`ResultsStore.wide` labels them.

    The label is the model name for a single run, the run name when each run holds one model, the
    model name when each model is in one run, else ``"<run>/<model>"``. Family patterns match the
    label, the model spec and the run name of a row.
    """
    pairs = cells[["run", "model"]].drop_duplicates()
    if pairs["run"].nunique() == 1:
        label = cells["model"]
    elif not pairs["run"].duplicated().any():
        label = cells["run"]
    elif not pairs["model"].duplicated().any():
        label = cells["model"]
    else:
        label = cells["run"] + "/" + cells["model"]
    cells = cells.assign(label=label.astype(str))
    wide = cells.pivot_table(index="label", columns="eval_set", values="value", aggfunc="first", sort=True)
    wide = wide.reset_index().rename(columns={"label": "model"})
    wide.columns.name = None
    names = {
        lab: tuple(dict.fromkeys([lab, *g["model"].astype(str), *g["run"].astype(str)]))
        for lab, g in cells.groupby("label", sort=False)
    }
    counts = cells.dropna(subset=["n"]).groupby("eval_set")["n"].max()
    eval_sets = sorted(map(str, cells["eval_set"].unique()))
    return Table(wide, "model", {str(k): int(v) for k, v in counts.items()}, names, eval_sets)


def resolve_columns(args: argparse.Namespace, table: Table) -> list[str]:
    """The OOD columns: ``--ood``, or with ``--db`` every selected eval set except ``--id``."""
    if table.eval_sets is None:
        if not args.ood_cols:
            raise CLIError("--ood is required with --csv (name the OOD column(s))")
        return list(args.ood_cols)
    for flag, col in [("--id", args.id_col), *(("--ood", c) for c in args.ood_cols or [])]:
        if col not in table.eval_sets:
            raise CLIError(
                f"{flag} {col!r} has no selected cells in {args.db}; selected eval sets: {', '.join(table.eval_sets)}"
            )
    oods = args.ood_cols or [s for s in table.eval_sets if s != args.id_col]
    if not oods:
        raise CLIError(f"no OOD eval set: the selection of {args.db} holds only {args.id_col!r}")
    return oods


def resolve_families(args: argparse.Namespace, table: Table) -> dict[str, list[str]] | None:
    """Family -> member models (family order: as given), or ``None`` without family flags."""
    if args.families is None and args.family_column is None:
        return None
    frame, model_col = table.frame, table.model_col
    if model_col not in frame.columns:
        return None  # fit_robustness reports the missing model column
    labels = frame[model_col].astype(str).tolist()
    if args.families is not None:
        patterns = [_family_flag(f) for f in args.families]
        of = {m: match_family(table.names.get(m, (m,)), patterns) for m in labels}
        for family, pattern in patterns:
            if not any(match_family(table.names.get(m, (m,)), [(family, pattern)]) for m in labels):
                raise CLIError(
                    f"--family {family}={pattern!r} matches no model; models: {', '.join(sorted(labels))}"
                )
        order = list(dict.fromkeys(f for f, _ in patterns))
    else:
        if table.eval_sets is not None:
            raise CLIError("--family-column needs --csv; with --db use --family NAME=PATTERN")
        col = args.family_column
        if col not in frame.columns:
            raise CLIError(
                f"--family-column {col!r} is not a column of {args.csv}; columns: {', '.join(map(str, frame.columns))}"
            )
        raw = frame[col].where(frame[col].notna(), "").astype(str).str.strip()
        of = {m: (f or None) for m, f in zip(labels, raw, strict=True)}
        order = list(dict.fromkeys(f for f in raw if f))
        if not order:
            raise CLIError(f"--family-column {col!r} names no family (every cell is empty)")
    unmatched = [m for m in labels if of[m] is None]
    if unmatched and args.unmatched == "error":
        raise CLIError(f"{len(unmatched)} model(s) match no family: {', '.join(unmatched)}")
    members = {f: [m for m in labels if of[m] == f] for f in order}
    for family, ms in members.items():
        if not ms:
            raise CLIError(
                f"family {family!r} gets no model: its patterns only match models of earlier families"
            )
    if unmatched and args.unmatched == "other":
        if OTHER in members:
            raise CLIError(f"--unmatched other: a family is already called {OTHER!r}")
        members[OTHER] = unmatched
    return members


def _family_flag(value: str) -> tuple[str, str]:
    name, sep, pattern = value.partition("=")
    if not sep or not name.strip() or not pattern:
        raise CLIError(f"--family takes NAME=PATTERN (e.g. clip='open_clip:*'), got {value!r}")
    return name.strip(), pattern


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


def _line_entry(report: RobustnessReport, ood: str, **extra: object) -> dict[str, object]:
    return {**report.lines[ood].to_dict(), "skipped": report.skipped[ood], "id": report.id_col, **extra}


def _json(data: object) -> str:
    return json.dumps(data, indent=2, allow_nan=True) + "\n"


def write_outputs(
    report: RobustnessReport,
    out: Path,
    n_boot: int,
    seed: int,
    annotate: bool,
    families: FamilyReport | None = None,
    chance: Mapping[str, float] | None = None,
) -> dict[str, str]:
    """Write the CSVs, JSONs and plots into ``out`` (all or nothing); return the plot names. ``chance``:
    chance accuracy per OOD set, marked on its panel."""
    plots = plot_file_names(list(report.lines))
    effective = report.effective if "family" in report.effective else report.effective.assign(family="")
    with StagedOutputs(out) as staged:
        effective.to_csv(staged.path("effective_robustness.csv"), index=False)
        ref = {} if families is None else {"reference_family": families.reference_family}
        lines = {ood: _line_entry(report, ood, plot=plots[ood], **ref) for ood in report.lines}
        staged.path("lines.json").write_text(_json(lines), encoding="utf-8")
        if families is not None:
            by_family = {f: {o: _line_entry(r, o) for o in r.lines} for f, r in families.families.items()}
            staged.path("lines_by_family.json").write_text(_json(by_family), encoding="utf-8")
            families.summary.to_csv(staged.path("family_summary.csv"), index=False)
        for ood, name in plots.items():
            fig = Figure(figsize=(5.6, 5.0) if families is not None else (5.2, 4.8))
            ax = fig.add_subplot()
            level = (chance or {}).get(ood)
            if families is None:
                plot_report_panel(ax, report, ood, n_boot=n_boot, seed=seed, annotate=annotate, chance=level)
            else:
                plot_family_panel(
                    ax, families, ood, n_boot=n_boot, seed=seed, annotate=annotate, chance=level
                )
            fig.tight_layout()
            fig.savefig(staged.path(name), dpi=150, format="png")
    return plots


def summarize(report: RobustnessReport, out: Path, n_models: int, ci_level: float) -> str:
    """A few lines: one per OOD column with the line and the extreme effective robustness."""
    unit = "pp" if report.units == "percent" else ""
    lines = [
        f"{PROG}: {n_models} models, ID {report.id_col!r}, {report.transform} transform, "
        f"{len(report.baseline)} baseline models, accuracies in {report.units}"
    ]
    for ood, line in report.lines.items():
        pts = report.points(ood)
        best = pts.loc[pts["effective_robustness"].idxmax()]
        ci = (
            f" [{best['er_low']:+.3g}, {best['er_high']:+.3g}] ({ci_level:.0%})"
            if np.isfinite(best["er_low"])
            else ""
        )
        lines.append(
            f"  {ood}: slope {line.slope:.4f}, intercept {line.intercept:.4f}, R² {line.r2:.4f}, n {line.n}, "
            f"skipped {report.skipped[ood]}; max ER {best['effective_robustness']:+.3g}{unit}{ci} ({best['model']})"
        )
    lines.append(f"  wrote {out}/effective_robustness.csv, lines.json and {len(report.lines)} plot(s)")
    return "\n".join(lines)


def summarize_families(families: FamilyReport, out: Path) -> str:
    """The per-family table (as ``family_summary.csv``), the family closest to y = x, unmatched models."""
    s = families.summary
    unit = "pp" if families.reference.units == "percent" else ""
    table = pd.DataFrame(
        {
            "family": s["family"],
            "ood": s["ood"],
            "n": s["n_models"],
            "slope": s["slope"].map("{:.4f}".format),
            "intercept": s["intercept"].map("{:+.4f}".format),
            "R²": s["r2"].map("{:.4f}".format),
            f"mean ER{f' ({unit})' if unit else ''}": s["mean_er"].map("{:+.3f}".format),
            "mean T(ood)−T(id)": s["mean_diagonal_distance"].map("{:+.4f}".format),
        }
    )
    ref = families.reference_family
    lines = [f"families (ER against {'family ' + repr(ref) if ref else 'the --baseline models'}):"]
    lines += ["  " + row for row in table.to_string(index=False).splitlines()]
    closest = s[s["closest_to_diagonal"]].groupby("ood", sort=False)["family"].agg(", ".join)
    lines += [f"  closest to y = x on {ood}: {fams}" for ood, fams in closest.items()]
    if families.unmatched:
        shown = ", ".join(families.unmatched[:10]) + (" …" if len(families.unmatched) > 10 else "")
        lines.append(f"  {len(families.unmatched)} model(s) in no family (not in any family line): {shown}")
    lines.append(f"  wrote {out}/family_summary.csv and lines_by_family.json")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    check_bootstrap_args(args.n_boot, args.ci_level)
    if args.csv is not None:
        used = [
            f
            for f, v in (("--protocol", args.protocols), ("--eval-set", args.eval_sets), ("--run", args.runs))
            if v
        ]
        if used:
            raise CLIError(f"{', '.join(used)} select cells of a results store; they need --db, not --csv")
    if args.reference_family is not None and args.baseline is not None:
        raise CLIError("give --baseline or --reference-family, not both")
    table = load_table(args)
    oods = resolve_columns(args, table)
    baseline = read_model_list(args.baseline) if args.baseline is not None else None
    members = resolve_families(args, table)
    if members is None and args.reference_family is not None:
        raise CLIError("--reference-family needs families (--family or --family-column)")
    common = {
        "id_col": args.id_col,
        "ood_cols": oods,
        "baseline": baseline,
        "transform": args.transform,
        "model_col": table.model_col,
        "n_samples": table.n_samples,
        "n_boot": args.n_boot,
        "seed": args.seed,
        "ci_level": args.ci_level,
    }
    families = None
    if members is None:
        report = fit_robustness(table.frame, **common)  # type: ignore[arg-type]
    else:
        families = fit_families(table.frame, members=members, reference=args.reference_family, **common)  # type: ignore[arg-type]
        report = families.reference
    chance = chance_levels(
        list(report.lines), args.chance, (args.protocols or ["zeroshot*"]) if args.db is not None else None
    )
    write_outputs(report, args.out, args.n_boot, args.seed, args.annotate, families, chance)
    print(summarize(report, args.out, len(table.frame), args.ci_level))
    if families is not None:
        print(summarize_families(families, args.out))
    return 0


@cli_main("line", expected=(StoreError,))
def main(argv: list[str]) -> int:
    """Entry point of ``vlmrobust line``; returns the exit code (2 on bad input)."""
    return _run(build_parser().parse_args(argv))
