"""Fit robustness lines and effective robustness over a wide results table, for one baseline or per family.

A *wide table* has one row per model: a ``model`` column plus one column per eval set, holding
accuracies either in percent (0–100) or as fractions (0–1). Percent is detected when any used
value exceeds 1; outputs keep the input units.

:func:`fit_robustness` fits one baseline line per OOD column and every model's effective robustness
(with bootstrap intervals) against it; :func:`fit_families` fits one line per *family* of models
(e.g. CLIP-style vs VLMs) as well, measures every model against a reference line, and summarises
each family (:data:`SUMMARY_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from vlmrobust.core.effective import clipped_points, effective_robustness, effective_robustness_ci
from vlmrobust.core.linefit import LineFit, Units, accuracy_interval, fit_line, units_scale
from vlmrobust.core.suggest import did_you_mean
from vlmrobust.core.transforms import TransformName, get_transform

#: Leading columns of :attr:`RobustnessReport.effective`, in order.
EFFECTIVE_COLUMNS: tuple[str, ...] = (
    "model",
    "ood",
    "id_acc",
    "ood_acc",
    "predicted_ood_acc",
    "effective_robustness",
)
#: Extra columns that follow: transformed-unit distance, clipping flag, baseline membership,
#: per-point Clopper–Pearson 95 % intervals (NaN when the eval set's sample count is unknown) and
#: the bootstrap interval of the effective robustness (NaN without resamples).
EXTRA_COLUMNS: tuple[str, ...] = (
    "er_transformed",
    "clipped",
    "baseline",
    "id_ci_low",
    "id_ci_high",
    "ood_ci_low",
    "ood_ci_high",
    "er_low",
    "er_high",
)
#: Columns of :attr:`FamilyReport.summary`, one row per (family, OOD column).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "family",  # family name
    "ood",  # OOD column
    "n_models",  # models of the family with both accuracies (points of its line)
    "slope",  # the family's own line, transformed units
    "intercept",
    "r2",
    "mean_er",  # mean effective robustness against the reference line, accuracy units
    "mean_er_transformed",  # the same in transformed units
    "mean_diagonal_distance",  # mean of T(ood) − T(id): vertical distance to y = x, transformed units
    "closest_to_diagonal",  # True for the family (per OOD column) with the smallest |mean_diagonal_distance|
)


class RobustnessInputError(ValueError):
    """Bad input table, column or baseline list (the message names what is wrong)."""


@dataclass(frozen=True, eq=False)
class RobustnessReport:
    """Lines and effective robustness for one ID column against several OOD columns."""

    lines: dict[str, LineFit]  # OOD column -> baseline line
    effective: pd.DataFrame  # EFFECTIVE_COLUMNS + EXTRA_COLUMNS, one row per (model, OOD column)
    skipped: dict[str, int]  # OOD column -> number of rows skipped for a missing ID or OOD value
    units: Units  # units of every accuracy in this report (those of the input table)
    id_col: str  # the ID column
    transform: TransformName  # accuracy transform of the lines
    baseline: tuple[str, ...]  # models the lines were fitted on
    skipped_models: dict[str, tuple[str, ...]] = field(default_factory=dict)  # OOD column -> skipped models
    n_samples: dict[str, int] = field(default_factory=dict)  # eval set -> test-set size, where known

    def points(self, ood: str) -> pd.DataFrame:
        """Rows of :attr:`effective` for one OOD column."""
        if ood not in self.lines:
            raise KeyError(f"no line for {ood!r}. {did_you_mean(ood, self.lines, 'OOD columns')}")
        return self.effective[self.effective["ood"] == ood].reset_index(drop=True)


def _require_columns(table: pd.DataFrame, names: Sequence[str], model_col: str) -> None:
    available = [str(c) for c in table.columns if c != model_col]
    for name in names:
        if name not in table.columns:
            raise RobustnessInputError(
                f"column {name!r} is not in the table. {did_you_mean(name, available, 'columns')}"
            )


def _numeric(table: pd.DataFrame, col: str, models: pd.Series) -> pd.Series:
    values = pd.to_numeric(table[col], errors="coerce")
    bad = values.isna() & table[col].notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise RobustnessInputError(
            f"column {col!r}, model {models.iloc[i]!r}: value {table[col].iloc[i]!r} is not a number"
        )
    return values.astype(float)


def detect_units(values: np.ndarray) -> Units:
    """``"percent"`` if any finite value exceeds 1, else ``"fraction"``."""
    finite = values[np.isfinite(values)]
    return "percent" if finite.size and finite.max() > 1.0 else "fraction"


def fit_robustness(
    table: pd.DataFrame,
    id_col: str,
    ood_cols: Sequence[str],
    baseline: Sequence[str] | None = None,
    transform: TransformName = "probit",
    model_col: str = "model",
    n_samples: Mapping[str, int] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
    units: Units | None = None,
) -> RobustnessReport:
    """Fit one baseline line per OOD column and the effective robustness of every model.

    Rows missing the ID or the OOD value are skipped for that OOD column and counted in
    :attr:`RobustnessReport.skipped` (never filled). Each line records its pair of eval sets
    (``id_set = id_col``, ``ood_set`` = the OOD column). ``er_low``/``er_high`` are the percentile
    bootstrap interval of each model's ER (:func:`~vlmrobust.core.effective.effective_robustness_ci`,
    the resamples of the band drawn with the same ``seed``).

    Args:
        table: wide table, one row per model.
        id_col: column of ID accuracies.
        ood_cols: columns of OOD accuracies, one line each.
        baseline: models the lines are fitted on; ``None`` means every model.
        transform: accuracy transform of the lines.
        model_col: column naming the models (must be unique).
        n_samples: optional test-set size per eval-set column, for the clipping rule and the
            per-point Clopper–Pearson intervals.
        n_boot: bootstrap resamples of the baseline for the ER intervals (0: NaN intervals).
        seed: seed of the resampling.
        ci_level: coverage of the ER intervals, in (0, 1).
        units: units of the accuracies; ``None`` detects them (:func:`detect_units`).

    Raises:
        RobustnessInputError: unknown column, unknown baseline model, duplicate model names,
            non-numeric or out-of-range values, or fewer than 2 baseline points for a column.
    """
    get_transform(transform)  # fail early on a bad name
    if n_boot < 0:
        raise RobustnessInputError(f"n_boot must be >= 0, got {n_boot}")
    if not 0.0 < ci_level < 1.0:
        raise RobustnessInputError(f"ci_level must be in (0, 1), got {ci_level}")
    ood_cols = list(ood_cols)
    if not ood_cols:
        raise RobustnessInputError("no OOD columns given")
    if model_col not in table.columns:
        raise RobustnessInputError(
            f"model column {model_col!r} is not in the table. "
            f"{did_you_mean(model_col, [str(c) for c in table.columns], 'columns')}"
        )
    _require_columns(table, [id_col, *ood_cols], model_col)
    models = table[model_col].astype(str).reset_index(drop=True)
    dupes = sorted(set(models[models.duplicated()]))
    if dupes:
        raise RobustnessInputError(f"model names must be unique; duplicated: {', '.join(dupes)}")
    table = table.reset_index(drop=True)
    values = {c: _numeric(table, c, models) for c in dict.fromkeys([id_col, *ood_cols])}
    if units is None:
        units = detect_units(np.concatenate([v.to_numpy() for v in values.values()]))
    top = units_scale(units)  # also rejects unknown units
    for col, v in values.items():
        out = (v < 0) | (v > top)
        if out.any():
            i = int(np.flatnonzero(out.to_numpy())[0])
            raise RobustnessInputError(
                f"column {col!r}, model {models.iloc[i]!r}: accuracy {v.iloc[i]} outside [0, {top:g}] ({units})"
            )

    if baseline is None:
        base_names = tuple(models)
    else:
        base_names = tuple(dict.fromkeys(str(b) for b in baseline))
        known = set(models)
        unknown = [b for b in base_names if b not in known]
        if unknown:
            raise RobustnessInputError(
                f"baseline model(s) not in the table: {', '.join(unknown)}. "
                f"{did_you_mean(unknown[0], sorted(known), 'models')}"
            )
    is_base = models.isin(base_names).to_numpy()
    n_samples = dict(n_samples or {})
    n_id = n_samples.get(id_col)

    lines: dict[str, LineFit] = {}
    skipped: dict[str, int] = {}
    skipped_models: dict[str, tuple[str, ...]] = {}
    frames: list[pd.DataFrame] = []
    x_all = values[id_col].to_numpy()
    for ood in ood_cols:
        y_all = values[ood].to_numpy()
        keep = np.isfinite(x_all) & np.isfinite(y_all)
        skipped[ood] = int((~keep).sum())
        skipped_models[ood] = tuple(models[~keep])
        fit_mask = keep & is_base
        if fit_mask.sum() < 2:
            raise RobustnessInputError(
                f"OOD column {ood!r}: only {int(fit_mask.sum())} baseline model(s) have both {id_col!r} "
                "and the OOD value; need at least 2 to fit a line"
            )
        n_ood = n_samples.get(ood)
        x, y = x_all[keep], y_all[keep]
        try:
            line = fit_line(x_all[fit_mask], y_all[fit_mask], transform, units=units, n_id=n_id, n_ood=n_ood,
                            id_set=id_col, ood_set=ood)  # fmt: skip
            er_lo, er_hi = (
                effective_robustness_ci(x_all[fit_mask], y_all[fit_mask], x, y, transform, units=units,
                                        n_boot=n_boot, seed=seed, level=ci_level, n_id=n_id, n_ood=n_ood)
                if n_boot > 0
                else (np.full(x.shape, np.nan), np.full(x.shape, np.nan))
            )  # fmt: skip
        except ValueError as err:
            raise RobustnessInputError(f"OOD column {ood!r}: {err}") from err
        lines[ood] = line
        er, er_t = effective_robustness(line, x, y, n_id=n_id, n_ood=n_ood)
        id_lo, id_hi = accuracy_interval(x, np.nan if n_id is None else n_id, units=units)
        ood_lo, ood_hi = accuracy_interval(y, np.nan if n_ood is None else n_ood, units=units)
        frames.append(
            pd.DataFrame(
                {
                    "model": models[keep].to_numpy(),
                    "ood": ood,
                    "id_acc": x,
                    "ood_acc": y,
                    "predicted_ood_acc": line.predict(x, n_id),
                    "effective_robustness": er,
                    "er_transformed": er_t,
                    "clipped": clipped_points(line, x, y, n_id=n_id, n_ood=n_ood),
                    "baseline": is_base[keep],
                    "id_ci_low": id_lo,
                    "id_ci_high": id_hi,
                    "ood_ci_low": ood_lo,
                    "ood_ci_high": ood_hi,
                    "er_low": er_lo,
                    "er_high": er_hi,
                }
            )
        )
    effective = pd.concat(frames, ignore_index=True)
    return RobustnessReport(
        lines=lines,
        effective=effective,
        skipped=skipped,
        units=units,
        id_col=id_col,
        transform=get_transform(transform).name,  # type: ignore[arg-type]
        baseline=base_names,
        skipped_models=skipped_models,
        n_samples={k: int(v) for k, v in n_samples.items()},
    )


@dataclass(frozen=True, eq=False)
class FamilyReport:
    """Per-family robustness lines, effective robustness against a reference line, and a summary."""

    reference: RobustnessReport  # lines ER is measured against; ``effective`` has a ``family`` column
    families: dict[str, RobustnessReport]  # family -> report of the family's own lines (fit on its members)
    members: dict[str, tuple[str, ...]]  # family -> its models, in table order
    unmatched: tuple[str, ...]  # models in no family (still in reference.effective, family "")
    reference_family: str | None  # family whose models are the reference baseline; None: an explicit list
    summary: pd.DataFrame  # SUMMARY_COLUMNS, one row per (family, OOD column)


def match_family(names: Sequence[str], patterns: Sequence[tuple[str, str]]) -> str | None:
    """The family of the first ``(family, pattern)`` whose pattern matches any of ``names``.

    Patterns are shell-style (:func:`fnmatch.fnmatchcase`: ``*``, ``?``, ``[seq]``; case-sensitive);
    a model can be known by several names (its row label, its model spec, its run).

    Args:
        names: the names of one model.
        patterns: ``(family, pattern)`` pairs, in priority order (first match wins).

    Returns:
        The family name, or ``None`` when no pattern matches.
    """
    for family, pattern in patterns:
        if any(fnmatchcase(name, pattern) for name in names):
            return family
    return None


def diagonal_distance(
    id_acc: ArrayLike,
    ood_acc: ArrayLike,
    transform: TransformName,
    units: Units = "fraction",
    n_id: int | None = None,
    n_ood: int | None = None,
) -> np.ndarray:
    """Vertical distance to y = x in the transformed plane, ``T(ood) − T(id)``.

    Both accuracies (in ``units``) are clipped by the rule of their own sample count.
    """
    t = get_transform(transform)
    scale = units_scale(units)
    t_ood = t.forward(np.asarray(ood_acc, dtype=float) / scale, n_ood)
    return t_ood - t.forward(np.asarray(id_acc, dtype=float) / scale, n_id)


def fit_families(
    table: pd.DataFrame,
    id_col: str,
    ood_cols: Sequence[str],
    members: Mapping[str, Sequence[str]],
    baseline: Sequence[str] | None = None,
    reference: str | None = None,
    transform: TransformName = "probit",
    model_col: str = "model",
    n_samples: Mapping[str, int] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    ci_level: float = 0.95,
) -> FamilyReport:
    """Fit one line per family and OOD column, and every model's ER against a reference line.

    The reference line is fitted on ``baseline`` when given, else on the models of the family
    ``reference`` (default: the first family). Each family's own line is fitted on its members
    alone (OLS of T(ood) on T(id), as :func:`fit_robustness`).

    Args:
        table: wide table, one row per model.
        id_col: column of ID accuracies.
        ood_cols: columns of OOD accuracies.
        members: family -> its model names (dict order is the family order); a model may belong to
            one family at most, and models of ``table`` in no family are reported as unmatched.
        baseline: explicit models of the reference line (exclusive with ``reference``).
        reference: family whose models form the reference line.
        transform: accuracy transform of the lines.
        model_col: column naming the models.
        n_samples: optional test-set size per eval-set column.
        n_boot: bootstrap resamples for the ER intervals (0: none).
        seed: bootstrap seed.
        ci_level: coverage of the ER intervals.

    Raises:
        RobustnessInputError: no families, an empty family, a model in two families or not in the
            table, an unknown reference family, both ``baseline`` and ``reference``, or a family
            with fewer than 2 models for a column (the message names the family).
    """
    if not members:
        raise RobustnessInputError("no families given")
    if baseline is not None and reference is not None:
        raise RobustnessInputError("give either a baseline list or a reference family, not both")
    if reference is not None and reference not in members:
        raise RobustnessInputError(
            f"unknown reference family {reference!r}. {did_you_mean(reference, members, 'families')}"
        )
    if model_col not in table.columns:
        raise RobustnessInputError(f"model column {model_col!r} is not in the table")
    models = table[model_col].astype(str).tolist()
    known = set(models)
    owner: dict[str, str] = {}
    fam_members: dict[str, tuple[str, ...]] = {}
    for family, names in members.items():
        names = tuple(dict.fromkeys(str(n) for n in names))
        if not family:
            raise RobustnessInputError("family names must not be empty")
        if not names:
            raise RobustnessInputError(f"family {family!r} has no models")
        for name in names:
            if name not in known:
                raise RobustnessInputError(
                    f"family {family!r}: model {name!r} is not in the table. {did_you_mean(name, known, 'models')}"
                )
            if name in owner:
                raise RobustnessInputError(
                    f"model {name!r} is in two families: {owner[name]!r} and {family!r}"
                )
            owner[name] = family
        fam_members[family] = tuple(m for m in models if m in set(names))  # table order
    ref_family = None if baseline is not None else (reference or next(iter(fam_members)))
    common = {"transform": transform, "model_col": model_col, "n_samples": n_samples}
    ref = fit_robustness(
        table,
        id_col,
        ood_cols,
        baseline=fam_members[ref_family] if ref_family is not None else baseline,
        n_boot=n_boot,
        seed=seed,
        ci_level=ci_level,
        **common,  # type: ignore[arg-type]
    )
    family_col = ref.effective["model"].map(owner).fillna("")
    ref = replace(ref, effective=ref.effective.assign(family=family_col))
    reports: dict[str, RobustnessReport] = {}
    for family, names in fam_members.items():
        rows = table[table[model_col].astype(str).isin(names)]
        try:  # the family's own lines; units fixed to the whole table's, never re-detected on a subset
            reports[family] = fit_robustness(rows, id_col, ood_cols, n_boot=0, units=ref.units, **common)  # type: ignore[arg-type]
        except RobustnessInputError as err:
            raise RobustnessInputError(f"family {family!r}: {err}") from err
    return FamilyReport(
        reference=ref,
        families=reports,
        members=fam_members,
        unmatched=tuple(m for m in models if m not in owner),
        reference_family=ref_family,
        summary=family_summary(ref, reports),
    )


def family_summary(reference: RobustnessReport, families: Mapping[str, RobustnessReport]) -> pd.DataFrame:
    """One row per (family, OOD column) with :data:`SUMMARY_COLUMNS`.

    ``mean_er`` averages the members' ER against ``reference`` (its ``effective`` needs a ``family``
    column); ``mean_diagonal_distance`` averages ``T(ood) − T(id)`` over the same members.
    """
    rows = []
    eff = reference.effective
    for family, report in families.items():
        for ood, line in report.lines.items():
            pts = report.points(ood)
            mine = eff[(eff["ood"] == ood) & (eff["family"] == family)]
            n_id, n_ood = report.n_samples.get(report.id_col), report.n_samples.get(ood)
            dist = diagonal_distance(
                pts["id_acc"], pts["ood_acc"], report.transform, report.units, n_id, n_ood
            )
            rows.append(
                {
                    "family": family,
                    "ood": ood,
                    "n_models": line.n,
                    "slope": line.slope,
                    "intercept": line.intercept,
                    "r2": line.r2,
                    "mean_er": float(mine["effective_robustness"].mean()),
                    "mean_er_transformed": float(mine["er_transformed"].mean()),
                    "mean_diagonal_distance": float(dist.mean()),
                }
            )
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS[:-1]))
    gap = summary["mean_diagonal_distance"].abs()
    summary["closest_to_diagonal"] = gap == gap.groupby(summary["ood"]).transform("min")
    return summary
