"""``vlmrobust slopes``: compare the robustness-line slopes of groups of models, per OOD set.

Examples::

    vlmrobust slopes --db results.db --id imagenet/val --ood '3dcc/*' \\
        --group cnn='open_clip:RN*' --group cnn='open_clip:convnext*' --group vit='open_clip:ViT*' --out out/3dcc
    vlmrobust slopes --csv accs.csv --id val --ood 'imagenet-c/*/[135]' --group-column arch \\
        --baseline-errors alexnet.csv --out out/imagenet-c

Each group gets its own line per OOD set (probit by default); for every pair of groups (a before b, in
the order given) ``slopes.csv`` holds one row per OOD set with both lines (n, slope, intercept, R²),
ΔS = s_a − s_b, the angle Δ_S = arctan s_a − arctan s_b and tan(Δ_S) = (s_a − s_b) / (1 + s_a s_b), each
with a percentile bootstrap interval resampling models within each group. ``slopes.png`` is a grid like
Fig. 8 of the holistic CLIP-robustness paper: rows = corruption, columns = severity when every OOD set is
named ``<family>/<corruption>/<severity>``, else one panel per OOD set. ``--baseline-errors`` (a CSV
with columns corruption, severity, error) adds ``mce.csv``: every model's corruption errors and mCE.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from itertools import combinations
from pathlib import Path
from typing import get_args

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.linefit import Units, units_scale
from vlmrobust.core.robustness import detect_units, match_family
from vlmrobust.core.slopes import SlopeComparison, compare_slopes, corruption_errors
from vlmrobust.core.store import ResultsStore, StoreError
from vlmrobust.core.suggest import did_you_mean
from vlmrobust.core.transforms import TransformName
from vlmrobust.eval.commands import StagedOutputs, check_bootstrap_args
from vlmrobust.eval.commands.line import Table, pivot_cells, select_cells
from vlmrobust.eval.plots import FamilyPoints, plot_family_lines

PROG = "vlmrobust slopes"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``vlmrobust slopes``."""
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--csv", type=Path, metavar="FILE", help="wide table: a model column, one column per eval set"
    )
    src.add_argument(
        "--db", type=Path, metavar="FILE", help="results store (results.db), pivoted to a wide table"
    )
    p.add_argument("--id", required=True, dest="id_col", metavar="SET", help="ID eval set (column)")
    p.add_argument("--ood", required=True, action="append", dest="ood_patterns", metavar="PATTERN",
                   help="OOD eval sets (shell-style pattern, e.g. 'imagenet-c/*'; repeatable)")  # fmt: skip
    grp = p.add_mutually_exclusive_group(required=True)
    grp.add_argument("--group", action="append", dest="groups", metavar="NAME=PATTERN",
                     help="models whose name, spec or run matches PATTERN (repeatable; first match wins)")  # fmt: skip
    grp.add_argument("--group-column", metavar="COL", help="CSV column naming each model's group")
    p.add_argument(
        "--transform", default="probit", choices=get_args(TransformName), help="accuracy transform"
    )
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the intervals (0: none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--ci-level", type=float, default=0.95, help="coverage of the intervals")
    p.add_argument("--baseline-errors", type=Path, metavar="FILE",
                   help="CSV of a baseline model's errors (corruption, severity, error): writes mce.csv")  # fmt: skip
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    p.add_argument("--model-col", default="model", help="column naming the models (CSV input)")
    db = p.add_argument_group("results-store selection (--db only; patterns are shell-style, case-sensitive)")
    db.add_argument("--metric", default="top1", help="metric to read")
    db.add_argument("--protocol", action="append", dest="protocols", metavar="PATTERN",
                    help="protocol(s) to read (repeatable; default 'zeroshot*')")  # fmt: skip
    db.add_argument(
        "--run", action="append", dest="runs", metavar="PATTERN", help="runs to read (repeatable)"
    )
    db.add_argument("--step", default="last", help="training step to read, or 'last' (each run's latest)")
    p.set_defaults(eval_sets=None)  # select_cells' eval-set filter: --id/--ood select the sets here
    return p


def load_table(args: argparse.Namespace) -> Table:
    """The wide table from ``--csv`` or from the cells of ``--db`` that pass the selection flags."""
    if args.csv is not None:
        dtype = {c: str for c in (args.model_col, args.group_column) if c}
        try:
            frame = pd.read_csv(args.csv, dtype=dtype)
        except (OSError, ValueError, pd.errors.ParserError) as err:
            raise CLIError(f"cannot read CSV {args.csv}: {getattr(err, 'strerror', None) or err}") from err
        if args.model_col not in frame.columns:
            raise CLIError(
                f"model column {args.model_col!r} is not in {args.csv}; columns: {', '.join(frame.columns)}"
            )
        labels = frame[args.model_col].astype(str)
        if labels.duplicated().any():
            raise CLIError(
                f"{args.csv}: model names must be unique; duplicated: {labels[labels.duplicated()].iloc[0]}"
            )
        return Table(frame, args.model_col, {}, {m: (m,) for m in labels})
    if not args.db.exists():
        raise CLIError(f"no such results store: {args.db}")
    try:
        step = args.step if args.step == "last" else int(args.step)
    except ValueError:
        raise CLIError(f"--step must be an integer or 'last', got {args.step!r}") from None
    return pivot_cells(select_cells(ResultsStore(args.db).cells(), args, step))


def resolve_sets(args: argparse.Namespace, table: Table) -> list[str]:
    """Check ``--id`` and expand the ``--ood`` patterns to the matching eval sets (in table order)."""
    where = f"the selection of {args.db}" if args.csv is None else str(args.csv)
    skip = {table.model_col, args.group_column}
    available = table.eval_sets or [str(c) for c in table.frame.columns if c not in skip]
    if args.id_col not in available:
        raise CLIError(
            f"--id {args.id_col!r} is not an eval set of {where}. {did_you_mean(args.id_col, available, 'eval sets')}"
        )
    oods: list[str] = []
    for pattern in args.ood_patterns:
        matched = [s for s in available if s != args.id_col and fnmatchcase(s, pattern)]
        if not matched:
            raise CLIError(
                f"--ood {pattern!r} matches no eval set of {where}; eval sets: {', '.join(available)}"
            )
        oods += [s for s in matched if s not in oods]
    return oods


def resolve_groups(args: argparse.Namespace, table: Table) -> dict[str, list[str]]:
    """Group -> member models (groups in the order given; models in no group are left out)."""
    labels = table.frame[table.model_col].astype(str).tolist()
    if args.groups is not None:
        patterns = []
        for value in args.groups:
            name, sep, pattern = value.partition("=")
            if not sep or not name.strip() or not pattern:
                raise CLIError(f"--group takes NAME=PATTERN (e.g. cnn='open_clip:RN*'), got {value!r}")
            patterns.append((name.strip(), pattern))
        for name, pattern in patterns:
            if not any(match_family(table.names[m], [(name, pattern)]) for m in labels):
                raise CLIError(
                    f"--group {name}={pattern!r} matches no model; models: {', '.join(sorted(labels))}"
                )
        of = {m: match_family(table.names[m], patterns) for m in labels}
        order = list(dict.fromkeys(name for name, _ in patterns))
    else:
        col = args.group_column
        if args.csv is None:
            raise CLIError("--group-column needs --csv; with --db use --group NAME=PATTERN")
        if col not in table.frame.columns:
            raise CLIError(
                f"--group-column {col!r} is not a column of {args.csv}; columns: {', '.join(map(str, table.frame.columns))}"
            )
        raw = table.frame[col].where(table.frame[col].notna(), "").astype(str).str.strip()
        of = {m: g or None for m, g in zip(labels, raw, strict=True)}
        order = list(dict.fromkeys(g for g in raw if g))
    groups = {g: [m for m in labels if of[m] == g] for g in order}
    empty = [g for g, ms in groups.items() if not ms]
    if empty:
        raise CLIError(f"group {empty[0]!r} gets no model: its patterns only match models of earlier groups")
    if len(groups) < 2:
        raise CLIError(
            f"need at least 2 groups to compare slopes, got {len(groups)}: {', '.join(groups) or '(none)'}"
        )
    return groups


def accuracies(table: Table, sets: list[str]) -> tuple[pd.DataFrame, Units]:
    """The numeric accuracy columns ``sets``, indexed by model, and their (detected) units."""
    frame = table.frame.set_index(table.frame[table.model_col].astype(str))
    values = frame[sets].apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & frame[sets].notna()
    if bad.any().any():
        col = str(bad.any().idxmax())
        model = str(bad[col].idxmax())
        raise CLIError(f"column {col!r}, model {model!r}: value {frame.at[model, col]!r} is not a number")
    units = detect_units(values.to_numpy(dtype=float).ravel())
    out = (values < 0) | (values > units_scale(units))
    if out.any().any():
        col = str(out.any().idxmax())
        raise CLIError(
            f"column {col!r}: accuracy {values[col][out[col]].iloc[0]} outside [0, {units_scale(units):g}] ({units})"
        )
    return values.astype(float), units


@dataclass(frozen=True)
class Panel:
    """The groups' points on one OOD set and the comparisons of every pair of groups."""

    ood: str  # OOD eval set
    points: dict[str, pd.DataFrame]  # group -> its models with both accuracies (columns id, ood)
    others: pd.DataFrame  # models in no group with both accuracies
    comparisons: list[SlopeComparison]  # one per pair of groups


def compare(args: argparse.Namespace, acc: pd.DataFrame, units: Units, table: Table,
            groups: dict[str, list[str]], oods: list[str]) -> list[Panel]:  # fmt: skip
    """One :class:`Panel` per OOD set: per-group points and the slope comparison of every group pair.

    Args:
        args: parsed arguments (``id_col``, ``transform``, ``n_boot``, ``seed``, ``ci_level``).
        acc: accuracies, one row per model, one column per eval set (from :func:`accuracies`).
        units: units of ``acc``.
        table: the wide table (its ``n_samples`` feed the clipping rule).
        groups: group -> member models, in group order (a pair's group a comes first).
        oods: OOD eval sets.
    """
    grouped = {m for ms in groups.values() for m in ms}
    panels = []
    for ood in oods:
        both = acc[[args.id_col, ood]].dropna().set_axis(["id", "ood"], axis=1)
        points = {g: both[both.index.isin(ms)] for g, ms in groups.items()}
        comparisons = []
        for a, b in combinations(groups, 2):
            try:
                comparisons.append(compare_slopes(
                    points[a]["id"], points[a]["ood"], points[b]["id"], points[b]["ood"], args.transform,
                    names=(a, b), units=units, n_id=table.n_samples.get(args.id_col), n_ood=table.n_samples.get(ood),
                    id_set=args.id_col, ood_set=ood, n_boot=args.n_boot, seed=args.seed, level=args.ci_level))  # fmt: skip
            except ValueError as err:
                raise CLIError(f"OOD set {ood!r}: {err}") from err
        panels.append(Panel(ood, points, both[~both.index.isin(grouped)], comparisons))
    return panels


def parse_corruption(name: str) -> tuple[str, str, int] | None:
    """``(family, corruption, severity)`` of a name ``<family>/<corruption>/<severity>``, else ``None``."""
    parts = name.split("/")
    if len(parts) < 3 or not parts[-1].isdigit() or not all(parts):
        return None
    return "/".join(parts[:-2]), parts[-2], int(parts[-1])


def slopes_frame(panels: list[Panel], groups: dict[str, list[str]]) -> pd.DataFrame:
    """The rows of ``slopes.csv``: one per OOD set and group pair, with skipped-model counts.

    Args:
        panels: one per OOD set (from :func:`compare`).
        groups: group -> member models (members lacking a value count as skipped).
    """
    rows = []
    for panel in panels:
        parsed = parse_corruption(panel.ood)
        where = dict(zip(("family", "corruption", "severity"), parsed or (None,) * 3, strict=True))
        for c in panel.comparisons:
            skipped = {
                f"skipped_{t}": len(groups[g]) - len(panel.points[g])
                for t, g in (("a", c.group_a), ("b", c.group_b))
            }
            rows.append({**c.to_dict(), **where, **skipped})
    return pd.DataFrame(rows)


def _layout(oods: list[str]) -> tuple[list[str], list[str], dict[str, tuple[int, int]]]:
    """Row labels, column labels and the (row, column) of every OOD set in the figure grid."""
    parsed = {o: parse_corruption(o) for o in oods}
    if not all(parsed.values()):
        ncols = min(3, len(oods))
        return [], [], {o: divmod(i, ncols) for i, o in enumerate(oods)}
    several = len({p[0] for p in parsed.values() if p}) > 1
    row_of = {o: f"{p[0]}/{p[1]}" if several else p[1] for o, p in parsed.items() if p}
    rows = list(dict.fromkeys(row_of.values()))
    cols = sorted({p[2] for p in parsed.values() if p})
    cells = {o: (rows.index(row_of[o]), cols.index(p[2])) for o, p in parsed.items() if p}
    return rows, [f"severity {s}" for s in cols], cells


def plot_panels(fig: Figure, panels: list[Panel], id_col: str) -> None:
    """Fig. 8-style grid on ``fig``: one panel per OOD set with every group's points and line.

    Args:
        fig: the figure (resized to the grid).
        panels: one per OOD set (from :func:`compare`).
        id_col: the ID eval set, named on the x axes.
    """
    rows, cols, cells = _layout([p.ood for p in panels])
    nrows = max(r for r, _ in cells.values()) + 1
    ncols = len(cols) or max(c for _, c in cells.values()) + 1
    fig.set_size_inches(4.4 * ncols, 4.2 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False)  # (nrows, ncols) array of Axes
    used = set()
    for panel in panels:
        r, c = cells[panel.ood]
        used.add((r, c))
        first = panel.comparisons[0]
        lines = {x.group_b: x.line_b for x in panel.comparisons} | {
            x.group_a: x.line_a for x in panel.comparisons
        }
        fams = [FamilyPoints(g, pts["id"].to_numpy(), pts["ood"].to_numpy(), lines[g])
                for g, pts in panel.points.items()]  # fmt: skip
        title = f"{rows[r]}, {cols[c]}" if rows else panel.ood
        if len(panel.comparisons) == 1:
            lo, hi = first.tan_delta_ci
            ci = f" [{lo:.3f}, {hi:.3f}]" if math.isfinite(lo) else ""
            title += f"\ntan Δ_S ({first.group_a} − {first.group_b}) = {first.tan_delta:.3f}{ci}"
        others = (panel.others["id"], panel.others["ood"]) if len(panel.others) else None
        plot_family_lines(axes[r, c], fams, others=others, title=title, xlabel=f"{id_col} accuracy"[:32],
                          ylabel=f"{panel.ood} accuracy"[:32] if not rows else "OOD accuracy")  # fmt: skip
    for r in range(nrows):
        for c in range(ncols):
            axes[r, c].set_visible((r, c) in used)
    fig.tight_layout()


def read_baseline_errors(path: Path, oods: list[str]) -> dict[str, tuple[str, int, float]]:
    """OOD set -> (corruption, severity, baseline error as a fraction) for every OOD set.

    Args:
        path: CSV with columns ``corruption``, ``severity`` (integer) and ``error`` (fraction or percent).
        oods: the selected OOD sets, each named ``<family>/<corruption>/<severity>``.

    Raises:
        CLIError: unreadable file, missing columns, duplicate or non-numeric rows, an OOD set that is not
            named ``<family>/<corruption>/<severity>``, two OOD sets with one (corruption, severity), or a
            (corruption, severity) the file lacks.
    """
    try:
        frame = pd.read_csv(path, dtype={"corruption": str})
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise CLIError(
            f"cannot read baseline errors {path}: {getattr(err, 'strerror', None) or err}"
        ) from err
    missing = [c for c in ("corruption", "severity", "error") if c not in frame.columns]
    if missing:
        raise CLIError(
            f"{path}: missing column(s) {', '.join(missing)}; expected corruption, severity, error"
        )
    sev = pd.to_numeric(frame["severity"], errors="coerce")
    err = pd.to_numeric(frame["error"], errors="coerce")
    scale = units_scale(detect_units(err.to_numpy(dtype=float)))  # errors in percent or as fractions
    bad = sev.isna() | err.isna() | (sev % 1 != 0) | (err < 0) | (err > scale)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CLIError(f"{path}, row {i + 2}: severity {frame['severity'].iloc[i]!r} / error {frame['error'].iloc[i]!r} "
                       f"is not an integer severity and an error rate in [0, {scale:g}]")  # fmt: skip
    table: dict[tuple[str, int], float] = {}
    for corruption, s, e in zip(frame["corruption"].astype(str), sev.astype(int), err / scale, strict=True):
        if (corruption, s) in table:
            raise CLIError(f"{path}: corruption {corruption!r}, severity {s} is listed twice")
        table[(corruption, s)] = float(e)
    keys: dict[str, tuple[str, int, float]] = {}
    seen: dict[tuple[str, int], str] = {}
    for ood in oods:
        parsed = parse_corruption(ood)
        if parsed is None:
            raise CLIError(
                f"--baseline-errors needs OOD sets named <family>/<corruption>/<severity>; got {ood!r}"
            )
        key = parsed[1:]
        if key in seen:
            raise CLIError(
                f"OOD sets {seen[key]!r} and {ood!r} are both corruption {key[0]!r}, severity {key[1]}"
            )
        if key not in table:
            raise CLIError(
                f"{path} has no error for corruption {key[0]!r}, severity {key[1]} (OOD set {ood!r})"
            )
        seen[key] = ood
        keys[ood] = (*key, table[key])
    return keys


def mce_frame(acc: pd.DataFrame, units: Units, groups: dict[str, list[str]],
              baseline: dict[str, tuple[str, int, float]]) -> pd.DataFrame:  # fmt: skip
    """The rows of ``mce.csv``: per model its group, mCE, CE per corruption, cells missing (then NaN).

    Args:
        acc: accuracies, one row per model (from :func:`accuracies`).
        units: units of ``acc``.
        groups: group -> member models (models in no group get an empty group).
        baseline: OOD set -> (corruption, severity, baseline error) (from :func:`read_baseline_errors`).
    """
    base = {(c, s): e for c, s, e in baseline.values()}
    group_of = {m: g for g, ms in groups.items() for m in ms}
    rows = []
    for model, values in acc.iterrows():
        errors = {(c, s): 1.0 - values[ood] / units_scale(units) for ood, (c, s, _) in baseline.items()}
        lacking = sum(not np.isfinite(e) for e in errors.values())
        row = {"model": model, "group": group_of.get(str(model), ""), "missing": lacking}
        if not lacking:
            row |= corruption_errors(errors, base).to_dict()
        rows.append(row)
    corruptions = list(dict.fromkeys(f"ce/{c}" for c, _, _ in baseline.values()))
    return pd.DataFrame(rows).reindex(columns=["model", "group", "mce", *corruptions, "missing"])


def summarize(panels: list[Panel], args: argparse.Namespace, units: Units) -> str:
    """One line per OOD set and group pair: both slopes, ΔS and tan(Δ_S) with their intervals."""
    lines = [
        f"{PROG}: ID {args.id_col!r}, {len(panels)} OOD set(s), {args.transform} transform, accuracies in {units}"
    ]
    for panel in panels:
        for c in panel.comparisons:
            lo, hi = c.tan_delta_ci
            ci = f" [{lo:+.3f}, {hi:+.3f}] ({c.level:.0%})" if math.isfinite(lo) else ""
            lines.append(f"  {panel.ood}: {c.group_a} slope {c.line_a.slope:.3f} (n {c.line_a.n}), {c.group_b} slope "
                         f"{c.line_b.slope:.3f} (n {c.line_b.n}); ΔS {c.delta_slope:+.3f}, tan Δ_S {c.tan_delta:+.3f}{ci}")  # fmt: skip
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    check_bootstrap_args(args.n_boot, args.ci_level)
    if args.csv is not None and (args.protocols or args.runs):
        raise CLIError("--protocol and --run select cells of a results store; they need --db, not --csv")
    table = load_table(args)
    oods = resolve_sets(args, table)
    groups = resolve_groups(args, table)
    baseline = read_baseline_errors(args.baseline_errors, oods) if args.baseline_errors else None
    acc, units = accuracies(table, [args.id_col, *oods])
    panels = compare(args, acc, units, table, groups, oods)
    with StagedOutputs(args.out) as staged:
        slopes_frame(panels, groups).to_csv(staged.path("slopes.csv"), index=False)
        fig = Figure()
        plot_panels(fig, panels, args.id_col)
        fig.savefig(staged.path("slopes.png"), dpi=110, format="png")
        if baseline is not None:
            mce = mce_frame(acc, units, groups, baseline)
            mce.to_csv(staged.path("mce.csv"), index=False)
    print(summarize(panels, args, units))
    unmatched = len(acc) - sum(len(ms) for ms in groups.values())
    if unmatched:
        print(f"  {unmatched} model(s) in no group (drawn grey, in no line)")
    if baseline is not None:
        lacking = int((mce["missing"] > 0).sum())
        print(
            f"  mCE of {len(mce) - lacking} model(s) in {args.out}/mce.csv"
            + (f"; {lacking} lack a cell (NaN)" if lacking else "")
        )
    print(f"  wrote {args.out}/slopes.csv and slopes.png")
    return 0


@cli_main("slopes", expected=(StoreError,))
def main(argv: list[str]) -> int:
    """Entry point of ``vlmrobust slopes``; returns the exit code (2 on bad input)."""
    return _run(build_parser().parse_args(argv))
